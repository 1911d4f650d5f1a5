package activities

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
)

// Which builds served. A timestamped build that never got the aliases (an abort during
// index creation, a failed drop, a refused or timed-out run) is not a build to keep for
// rollback, however new it is. So the switch records in each build's mapping _meta (under
// "opsflow") when it was first seen serving, and a rollback records on the build it moved
// away from that it was rolled back. Cleanup keeps, and a rollback goes back to, only builds
// that served and were never rolled back from.

// metaKey is opsflow's key in a build's mapping _meta.
const metaKey = "opsflow"

// buildRecord is what opsflow records in a build's mapping _meta.
type buildRecord struct {
	// ServedAt is when opsflow first saw the build serve: its switch, or for a build that
	// served before opsflow recorded it, the switch away from it.
	ServedAt time.Time `json:"servedAt,omitzero"`
	// RolledBackAt is when a rollback moved the aliases away from it: a build found bad.
	RolledBackAt time.Time `json:"rolledBackAt,omitzero"`
}

// good says whether the build may serve again: it served and was never rolled back from.
func (r buildRecord) good() bool { return !r.ServedAt.IsZero() && r.RolledBackAt.IsZero() }

// buildRecords reads the record of every masterdoctorindex-* build (a build without one
// never served, as far as opsflow knows).
func (a *SearchIndexActivities) buildRecords(ctx context.Context) (map[string]buildRecord, error) {
	metas, err := a.ES.IndexMeta(ctx, reval.MasterDoctorIndexPattern)
	if err != nil {
		return nil, err
	}
	out := make(map[string]buildRecord, len(metas))
	for index, meta := range metas {
		out[index] = recordOf(meta)
	}
	return out, nil
}

func recordOf(meta map[string]any) buildRecord {
	var r buildRecord
	if b, err := json.Marshal(meta[metaKey]); err == nil {
		_ = json.Unmarshal(b, &r) // a foreign or garbled record reads as none
	}
	return r
}

// record changes one index's record; it keeps what was recorded before.
func (a *SearchIndexActivities) record(ctx context.Context, index string, change func(*buildRecord)) error {
	metas, err := a.ES.IndexMeta(ctx, index)
	if err != nil {
		return err
	}
	r := recordOf(metas[index])
	before := r
	change(&r)
	if r == before {
		return nil
	}
	return a.ES.SetIndexMeta(ctx, index, metaKey, r)
}

// markServed records that index served (once: the first time counts).
func (a *SearchIndexActivities) markServed(ctx context.Context, index string) error {
	return a.record(ctx, index, func(r *buildRecord) {
		if r.ServedAt.IsZero() {
			r.ServedAt = time.Now().UTC()
		}
	})
}

// aliasedIndices returns every index holding one of the four aliases.
func (a *SearchIndexActivities) aliasedIndices(ctx context.Context) (map[string]bool, error) {
	aliased := map[string]bool{}
	for _, alias := range reval.AliasNames {
		idx, err := a.ES.AliasIndices(ctx, alias)
		if err != nil {
			return nil, err
		}
		for _, i := range idx {
			aliased[i] = true
		}
	}
	return aliased, nil
}

// olderBuilds lists the masterdoctorindex-* builds whose name sorts before current (the
// timestamp in the name is the build's start), newest first.
func (a *SearchIndexActivities) olderBuilds(ctx context.Context, current string) ([]string, error) {
	all, err := a.ES.ListIndices(ctx, reval.MasterDoctorIndexPattern)
	if err != nil {
		return nil, err
	}
	var older []string
	for _, ix := range all {
		if ix.Name < current {
			older = append(older, ix.Name)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(older)))
	return older, nil
}

// CleanupInput says which builds to keep.
type CleanupInput struct {
	Current string `json:"current"`
	// KeepPrevious builds that served, older than Current, are kept for rollback.
	KeepPrevious int `json:"keepPrevious"`
}

// CleanupResult lists what was deleted and kept.
type CleanupResult struct {
	Deleted []string `json:"deleted"`
	Kept    []string `json:"kept"`
	// Abandoned are the deleted builds that never served (a subset of Deleted).
	Abandoned []string `json:"abandoned,omitempty"`
}

// CleanupSyncIndexes keeps the newest KeepPrevious builds older than Current that served
// (and were not rolled back from), so a rollback always has the last good build, and
// deletes the other builds older than Current: older good ones, builds rolled back from,
// and builds that never served (abandoned by an abort or a failure), however new. It never
// deletes an index that holds any alias, nor Current or anything newer (a concurrent build).
func (a *SearchIndexActivities) CleanupSyncIndexes(ctx context.Context, in CleanupInput) (CleanupResult, error) {
	res := CleanupResult{Deleted: []string{}, Kept: []string{}}
	older, err := a.olderBuilds(ctx, in.Current)
	if err != nil {
		return res, err
	}
	aliased, err := a.aliasedIndices(ctx)
	if err != nil {
		return res, err
	}
	records, err := a.buildRecords(ctx)
	if err != nil {
		return res, err
	}
	good := 0
	for _, name := range older {
		r := records[name]
		keep := aliased[name] || (r.good() && good < in.KeepPrevious)
		if r.good() && keep {
			good++
		}
		if keep {
			res.Kept = append(res.Kept, name)
			continue
		}
		if err := a.ES.DeleteIndex(ctx, name); err != nil && !esclient.IsNotFound(err) {
			return res, err
		}
		res.Deleted = append(res.Deleted, name)
		if r.ServedAt.IsZero() {
			res.Abandoned = append(res.Abandoned, name)
		}
	}
	return res, nil
}

// RevalRollbackInput names the environment a rollback is for (for its messages).
type RevalRollbackInput struct {
	Environment string `json:"environment"`
}

// RevalRollbackPlan is the build serving now and the one a rollback goes back to.
type RevalRollbackPlan struct {
	From      string `json:"from"`
	To        string `json:"to"`
	FromCount int64  `json:"fromCount"`
	ToCount   int64  `json:"toCount"`
}

// PreviousServedBuild finds what a rollback would do: the build masterdoctorindex serves
// from now, and the newest build older than it that served and was never rolled back from.
// It refuses (non-retryable) when nothing or more than one build serves, when no such build
// is left, and when that build holds no documents: going back must never empty the UI.
func (a *SearchIndexActivities) PreviousServedBuild(ctx context.Context, in RevalRollbackInput) (RevalRollbackPlan, error) {
	var plan RevalRollbackPlan
	serving, err := a.ES.AliasIndices(ctx, reval.MasterDoctorAlias)
	if err != nil {
		return plan, err
	}
	switch len(serving) {
	case 0:
		return plan, permanent(ErrNoServedBuild, nil, "%s: no opsflow build serves masterdoctorindex (nothing yet, or the legacy concrete index); nothing to roll back",
			in.Environment)
	case 1:
	default:
		return plan, permanent(ErrNoServedBuild, nil, "%s: masterdoctorindex is served by %v, not by one build; nothing to roll back",
			in.Environment, serving)
	}
	plan.From = serving[0]
	older, err := a.olderBuilds(ctx, plan.From)
	if err != nil {
		return plan, err
	}
	records, err := a.buildRecords(ctx)
	if err != nil {
		return plan, err
	}
	for _, name := range older {
		if records[name].good() {
			plan.To = name
			break
		}
	}
	if plan.To == "" {
		return plan, permanent(ErrNoServedBuild, nil, "%s: no previous build that served is left to roll back to; %s keeps serving",
			in.Environment, plan.From)
	}
	if plan.FromCount, err = a.ES.Count(ctx, plan.From); err != nil {
		return plan, err
	}
	if plan.ToCount, err = a.targetCount(ctx, in.Environment, plan.To, plan.From); err != nil {
		return plan, err
	}
	return plan, nil
}

// targetCount counts the documents of the build to roll back to; a missing or empty
// build is refused.
func (a *SearchIndexActivities) targetCount(ctx context.Context, env, to, from string) (int64, error) {
	n, err := a.ES.Count(ctx, to)
	if esclient.IsNotFound(err) {
		return 0, permanent(ErrRollbackTargetUnusable, err, "%s: the previous build %s no longer exists; not rolling back; %s keeps serving", env, to, from)
	}
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, permanent(ErrRollbackTargetUnusable, nil, "%s: the previous build %s holds no documents; not rolling back to it; %s keeps serving", env, to, from)
	}
	return n, nil
}

// RevalRollbackAliasesInput is a planned rollback.
type RevalRollbackAliasesInput struct {
	Environment string `json:"environment"`
	From        string `json:"from"`
	To          string `json:"to"`
}

// RevalRollbackResult is what serves after a rollback, counted through the aliases.
type RevalRollbackResult struct {
	From               string `json:"from"`
	To                 string `json:"to"`
	Count              int64  `json:"count"`
	CurrentConnections int64  `json:"currentConnections"`
	Discrepancies      int64  `json:"discrepancies"`
	AlreadyDone        bool   `json:"alreadyDone,omitempty"`
}

// RollbackRevalAliases moves all four aliases (with their filters) from From back to To in
// ONE _aliases request, after checking again that From still serves and To still exists
// and holds documents; then records on From that it was rolled back from, so neither
// cleanup nor a later rollback takes it for a good build. From is not deleted. Repeating it
// after success changes nothing.
func (a *SearchIndexActivities) RollbackRevalAliases(ctx context.Context, in RevalRollbackAliasesInput) (RevalRollbackResult, error) {
	res := RevalRollbackResult{From: in.From, To: in.To}
	var actions []esclient.AliasAction
	done := true
	for _, alias := range reval.AliasNames {
		idx, err := a.ES.AliasIndices(ctx, alias)
		if err != nil {
			return res, err
		}
		if alias == reval.MasterDoctorAlias && !slices.Equal(idx, []string{in.From}) && !slices.Equal(idx, []string{in.To}) {
			return res, permanent(ErrAliasesMoved, nil, "%s: masterdoctorindex now points at %v, not %s as planned (a sync switched meanwhile?); nothing changed",
				in.Environment, idx, in.From)
		}
		if !slices.Equal(idx, []string{in.To}) {
			done = false
		}
		for _, old := range idx {
			if old != in.To {
				actions = append(actions, esclient.AliasAction{Index: old, Alias: alias})
			}
		}
	}
	if !done {
		if _, err := a.targetCount(ctx, in.Environment, in.To, in.From); err != nil {
			return res, err
		}
		actions = append(actions, reval.AddAliases(in.To)...)
		activity.RecordHeartbeat(ctx, "switching")
		if err := a.ES.SwitchAliases(ctx, actions); err != nil {
			return res, err
		}
	}
	res.AlreadyDone = done
	if err := a.record(ctx, in.From, func(r *buildRecord) {
		if r.RolledBackAt.IsZero() {
			r.RolledBackAt = time.Now().UTC()
		}
	}); err != nil && !esclient.IsNotFound(err) { // deleted by hand since: nothing to record
		return res, err
	}
	var err error
	if res.Count, err = a.ES.Count(ctx, reval.MasterDoctorAlias); err != nil {
		return res, err
	}
	if res.CurrentConnections, err = a.ES.Count(ctx, reval.CurrentConnectionsAlias); err != nil {
		return res, err
	}
	if res.Discrepancies, err = a.ES.Count(ctx, reval.DiscrepanciesAlias); err != nil {
		return res, err
	}
	return res, nil
}
