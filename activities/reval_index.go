package activities

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
)

// SearchIndexActivities are the revalidation sync's search-engine steps around the
// ingests: create the new build, check it, switch the aliases in one call, drop an unused
// build, clean up old builds, and roll back (reval_builds.go).
// The live index is never written to or deleted while a build is under way.
type SearchIndexActivities struct {
	ES *esclient.Client
}

// SyncIndexInput names the new build.
type SyncIndexInput struct {
	Index string `json:"index"`
}

// LiveIndexState is what serves the services before the switch.
type LiveIndexState struct {
	// Indices hold the masterdoctorindex alias now (normally one), or the legacy concrete
	// index named masterdoctorindex.
	Indices []string `json:"indices"`
	// Legacy is set when masterdoctorindex is a concrete index, not an alias (before the
	// first opsflow sync); the switch replaces it by the alias.
	Legacy bool  `json:"legacy,omitempty"`
	Count  int64 `json:"count"`
}

// CreateSyncIndex creates the new timestamped build with the MasterDoctorView mapping and
// reports what is live now. A retry after a lost answer finds the build empty and goes on;
// a non-empty index of that name is refused (it is some other run's build).
func (a *SearchIndexActivities) CreateSyncIndex(ctx context.Context, in SyncIndexInput) (LiveIndexState, error) {
	live, err := a.liveState(ctx)
	if err != nil {
		return live, err
	}
	if slices.Contains(live.Indices, in.Index) {
		return live, permanent(ErrIndexStillLive, nil, "index %s already serves masterdoctorindex; a new build needs a new name", in.Index)
	}
	if err := a.ES.CreateIndex(ctx, in.Index, reval.MasterDoctorMapping()); err != nil {
		if !esclient.IsAlreadyExists(err) {
			return live, err
		}
		n, cerr := a.ES.Count(ctx, in.Index)
		if cerr != nil {
			return live, cerr
		}
		if n > 0 {
			return live, permanent(ErrSyncIndexNameTaken, err, "index %s already exists with %d documents", in.Index, n)
		}
	}
	return live, nil
}

func (a *SearchIndexActivities) liveState(ctx context.Context) (LiveIndexState, error) {
	var st LiveIndexState
	idx, err := a.ES.AliasIndices(ctx, reval.MasterDoctorAlias)
	if err != nil {
		return st, err
	}
	if len(idx) == 0 {
		exists, err := a.ES.IndexExists(ctx, reval.MasterDoctorAlias)
		if err != nil {
			return st, err
		}
		if !exists {
			return st, nil // first sync ever: nothing is live
		}
		st.Legacy = true
		idx = []string{reval.MasterDoctorAlias}
	}
	st.Indices = idx
	n, err := a.ES.Count(ctx, reval.MasterDoctorAlias)
	if err != nil {
		return st, err
	}
	st.Count = n
	return st, nil
}

// CheckInput is what the new build must hold before it may serve.
type CheckInput struct {
	Index string `json:"index"`
	// Connections and GMC are the doctors the producers announced in their syncEnd
	// markers (0 when a producer does not announce a count).
	Connections int64 `json:"connections"`
	GMC         int64 `json:"gmc"`
	// Received are the doctor messages the ingest consumed, for when no count was
	// announced.
	ReceivedConnections int64 `json:"receivedConnections"`
	// MaxShrink is the largest fraction the new build may be smaller than the live index.
	MaxShrink float64 `json:"maxShrink"`
}

// IndexCounts are the new build's document counts.
type IndexCounts struct {
	Total int64 `json:"total"`
	// WithTCS have a tcsPersonId (sent by TCS); WithGMC have existsInGmc (seen by GMC).
	WithTCS int64 `json:"withTcs"`
	WithGMC int64 `json:"withGmc"`
	// CurrentConnections and Discrepancies are what the filtered aliases will show.
	CurrentConnections int64 `json:"currentConnections"`
	Discrepancies      int64 `json:"discrepancies"`
	LiveCount          int64 `json:"liveCount"`
}

// CheckSyncIndex refreshes the new build and reconciles its counts with what the
// producers sent. It refuses (non-retryable) an empty build, one missing announced
// doctors, or one smaller than the live index by more than MaxShrink, so an incomplete
// build never gets the aliases.
func (a *SearchIndexActivities) CheckSyncIndex(ctx context.Context, in CheckInput) (IndexCounts, error) {
	var c IndexCounts
	if err := a.ES.Refresh(ctx, in.Index); err != nil {
		return c, err
	}
	var err error
	if c.Total, err = a.ES.Count(ctx, in.Index); err != nil {
		return c, err
	}
	if c.WithTCS, err = a.ES.CountQuery(ctx, in.Index, exists("tcsPersonId")); err != nil {
		return c, err
	}
	if c.WithGMC, err = a.ES.CountQuery(ctx, in.Index, exists("existsInGmc")); err != nil {
		return c, err
	}
	if c.CurrentConnections, err = a.ES.CountQuery(ctx, in.Index, reval.CurrentConnectionsFilter()); err != nil {
		return c, err
	}
	if c.Discrepancies, err = a.ES.CountQuery(ctx, in.Index, reval.DiscrepanciesFilter()); err != nil {
		return c, err
	}
	live, err := a.liveState(ctx)
	if err != nil {
		return c, err
	}
	c.LiveCount = live.Count
	switch {
	case c.Total == 0 || c.WithTCS == 0:
		return c, permanent(ErrSyncIndexEmpty, nil, "new index %s holds %d documents (%d from TCS): TCS sent no doctors; %s still serves",
			in.Index, c.Total, c.WithTCS, liveName(live))
	case in.Connections > 0 && c.WithTCS != in.Connections:
		return c, permanent(ErrSyncIncomplete, nil, "new index %s holds %d TCS doctors but TCS announced %d; %s still serves",
			in.Index, c.WithTCS, in.Connections, liveName(live))
	case in.Connections == 0 && c.WithTCS > in.ReceivedConnections:
		return c, permanent(ErrSyncIncomplete, nil, "new index %s holds %d TCS doctors but only %d messages were received; %s still serves",
			in.Index, c.WithTCS, in.ReceivedConnections, liveName(live))
	case in.GMC > 0 && c.WithGMC < in.GMC:
		return c, permanent(ErrSyncIncomplete, nil, "new index %s holds %d doctors seen by GMC but the recommendation service announced %d; %s still serves",
			in.Index, c.WithGMC, in.GMC, liveName(live))
	case live.Count > 0 && float64(c.Total) < float64(live.Count)*(1-in.MaxShrink):
		return c, permanent(ErrSyncIndexShrunk, nil, "new index %s holds %d documents, the live %s %d: smaller by more than %.0f%%; %s still serves",
			in.Index, c.Total, reval.MasterDoctorAlias, live.Count, in.MaxShrink*100, liveName(live))
	}
	return c, nil
}

func exists(field string) map[string]any {
	return map[string]any{"exists": map[string]any{"field": field}}
}

func liveName(l LiveIndexState) string {
	if len(l.Indices) == 0 {
		return "no previous index"
	}
	return fmt.Sprintf("the live index %v", l.Indices)
}

// SwitchResult says what served before the switch.
type SwitchResult struct {
	Previous      []string `json:"previous"`
	LegacyRemoved bool     `json:"legacyRemoved,omitempty"`
	AlreadyDone   bool     `json:"alreadyDone,omitempty"`
}

// SwitchRevalAliases moves masterdoctorindex, current_connections, discrepancies and
// recommendations to the new build in ONE _aliases request, so no search ever finds an
// alias missing. A legacy concrete masterdoctorindex is removed inside the same request
// (the only way an alias can take its name). It records in each build's mapping _meta that
// it served: the builds that held the aliases before the switch, then the new one, so
// cleanup keeps only builds that served and a rollback only goes back to one. Repeating it
// after success changes nothing but that record.
func (a *SearchIndexActivities) SwitchRevalAliases(ctx context.Context, in SyncIndexInput) (SwitchResult, error) {
	var res SwitchResult
	var actions []esclient.AliasAction
	prev := map[string]bool{}
	done := true
	for _, alias := range reval.AliasNames {
		idx, err := a.ES.AliasIndices(ctx, alias)
		if err != nil {
			return res, err
		}
		if !slices.Equal(idx, []string{in.Index}) {
			done = false
		}
		for _, old := range idx {
			if old == in.Index {
				continue
			}
			prev[old] = true
			actions = append(actions, esclient.AliasAction{Add: false, Index: old, Alias: alias})
		}
	}
	if done {
		res.AlreadyDone = true
		return res, a.markServed(ctx, in.Index)
	}
	for old := range prev {
		if err := a.markServed(ctx, old); err != nil { // it served until now, by definition
			return res, err
		}
	}
	live, err := a.liveState(ctx)
	if err != nil {
		return res, err
	}
	if live.Legacy {
		actions = append(actions, esclient.AliasAction{RemoveIndex: true, Index: reval.MasterDoctorAlias})
		res.LegacyRemoved = true
		prev[reval.MasterDoctorAlias] = true
	}
	actions = append(actions, reval.AddAliases(in.Index)...)
	activity.RecordHeartbeat(ctx, "switching")
	if err := a.ES.SwitchAliases(ctx, actions); err != nil {
		return res, err
	}
	if err := a.markServed(ctx, in.Index); err != nil {
		return res, err
	}
	for p := range prev {
		res.Previous = append(res.Previous, p)
	}
	sort.Strings(res.Previous)
	return res, nil
}

// DropSyncIndex deletes a build that will not serve (an aborted or refused sync). It
// refuses to delete an index that holds any alias: the live index is never dropped.
func (a *SearchIndexActivities) DropSyncIndex(ctx context.Context, in SyncIndexInput) error {
	for _, alias := range reval.AliasNames {
		idx, err := a.ES.AliasIndices(ctx, alias)
		if err != nil {
			return err
		}
		if slices.Contains(idx, in.Index) {
			return permanent(ErrIndexStillLive, nil, "index %s holds alias %s; not deleting a live index", in.Index, alias)
		}
	}
	if err := a.ES.DeleteIndex(ctx, in.Index); err != nil && !esclient.IsNotFound(err) {
		return err
	}
	return nil
}
