package esclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The contract suite: every call opsflow makes to the search engine, checked
// against the cluster at OPSFLOW_ES_URL: the stack's OpenSearch in `make test`,
// or any OpenSearch 2 / Elasticsearch 7 cluster. Tests use unique index and
// alias names and delete what they create, so they are safe on a shared cluster.

var logTarget sync.Once

type env struct {
	t   *testing.T
	c   *Client
	ctx context.Context
	p   string // unique name prefix
}

func target(t *testing.T) *env {
	t.Helper()
	url := os.Getenv("OPSFLOW_ES_URL")
	if url == "" {
		t.Fatal(`OPSFLOW_ES_URL is not set: scripts/stack up && eval "$(scripts/stack env)" (or point it at another cluster)`)
	}
	c, err := New(url)
	require.NoError(t, err)
	logTarget.Do(func() {
		d, v, err := c.Distribution(context.Background())
		require.NoError(t, err)
		t.Logf("esclient contract suite target: %s %s at %s", d, v, url)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &env{t: t, c: c, ctx: ctx, p: "opsflow-test-" + hex.EncodeToString(b) + "-"}
}

// index creates a uniquely named index (deleted at cleanup).
func (e *env) index(suffix string, body map[string]any) string {
	e.t.Helper()
	name := e.p + suffix
	require.NoError(e.t, e.c.CreateIndex(e.ctx, name, body))
	e.t.Cleanup(func() {
		if err := e.c.DeleteIndex(context.Background(), name); err != nil && !IsNotFound(err) {
			e.t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// aliases returns four uniquely named aliases on index, two of them filtered the way a
// procedure filters them (a term on a boolean, a script comparing two .keyword sub-fields).
func (e *env) aliases(index string) []AliasAction {
	return []AliasAction{
		{Add: true, Index: index, Alias: e.p + "all"},
		{Add: true, Index: index, Alias: e.p + "connected", Filter: map[string]any{"term": map[string]any{"existsInGmc": true}}},
		{Add: true, Index: index, Alias: e.p + "differ",
			Filter: map[string]any{"script": map[string]any{"script": "doc['tcsDesignatedBody.keyword'] != doc['designatedBody.keyword']"}}},
		{Add: true, Index: index, Alias: e.p + "all-too"},
	}
}

// testMapping is a small explicit mapping of the field kinds the suite's documents use: a
// long, a boolean, dates, and strings as text with a .keyword sub-field (what dynamic
// mapping would give them).
func testMapping() map[string]any {
	text := map[string]any{"type": "text", "fields": map[string]any{"keyword": map[string]any{"type": "keyword", "ignore_above": 256}}}
	return map[string]any{"mappings": map[string]any{"properties": map[string]any{
		"id":                     text,
		"tcsPersonId":            map[string]any{"type": "long"},
		"gmcReferenceNumber":     text,
		"doctorFirstName":        text,
		"designatedBody":         text,
		"tcsDesignatedBody":      text,
		"gmcStatus":              text,
		"tisStatus":              text,
		"underNotice":            text,
		"existsInGmc":            map[string]any{"type": "boolean"},
		"submissionDate":         map[string]any{"type": "date", "format": "uuuu-MM-dd"},
		"lastConnectionDateTime": map[string]any{"type": "date", "format": "uuuu-MM-dd'T'HH:mm:ss.SSS"},
	}}}
}

func removeAll(acts []AliasAction, index string) []AliasAction {
	out := make([]AliasAction, len(acts))
	for i, a := range acts {
		out[i] = AliasAction{Index: index, Alias: a.Alias}
	}
	return out
}

func (e *env) count(name string) int64 {
	e.t.Helper()
	n, err := e.c.Count(e.ctx, name)
	require.NoError(e.t, err)
	return n
}

func (e *env) bulk(index string, docs ...Doc) {
	e.t.Helper()
	res, err := e.c.BulkIndex(e.ctx, index, docs, WithRefresh())
	require.NoError(e.t, err)
	require.Empty(e.t, res.Failed)
	require.Equal(e.t, len(docs), res.Indexed)
}

type view map[string]any

func doctor(id string, existsInGmc any, db, tcsDB string) Doc {
	v := view{"id": id, "gmcReferenceNumber": "gmc" + id, "doctorFirstName": "First", "tcsPersonId": 1000,
		"submissionDate": "2025-11-10", "lastConnectionDateTime": "2025-11-10T09:30:00.000",
		"tisStatus": "NOT_STARTED", "underNotice": "NO"}
	if existsInGmc != nil {
		v["existsInGmc"] = existsInGmc
	}
	if db != "" {
		v["designatedBody"] = db
	}
	if tcsDB != "" {
		v["tcsDesignatedBody"] = tcsDB
	}
	return Doc{ID: id, Source: v}
}

func TestNewAndPing(t *testing.T) {
	e := target(t)
	v, err := e.c.Ping(e.ctx)
	require.NoError(t, err)
	dist, dv, err := e.c.Distribution(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, v, dv)
	switch dist {
	case DistributionOpenSearch:
		assert.True(t, strings.HasPrefix(v, "2."), "OpenSearch version %s", v)
	case DistributionElasticsearch:
		assert.True(t, strings.HasPrefix(v, "7."), "Elasticsearch version %s", v)
	default:
		t.Fatalf("unknown distribution %q (version %s)", dist, v)
	}

	_, err = New("127.0.0.1:9200")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "127.0.0.1:9200")

	bad, err := New("http://127.0.0.1:1")
	require.NoError(t, err, "New must not contact the server")
	_, err = bad.Ping(e.ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "http://127.0.0.1:1")
}

func TestCreateIndexWithMappingThenExists(t *testing.T) {
	e := target(t)
	name := e.index("create", testMapping())
	ok, err := e.c.IndexExists(e.ctx, name)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = e.c.IndexExists(e.ctx, e.p+"nope")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestCreateTwiceIsAlreadyExists(t *testing.T) {
	e := target(t)
	name := e.index("twice", testMapping())
	err := e.c.CreateIndex(e.ctx, name, testMapping())
	require.Error(t, err)
	assert.True(t, IsAlreadyExists(err), "%v", err)
	assert.False(t, IsNotFound(err))
}

func TestBulkIndexReportsItemFailures(t *testing.T) {
	e := target(t)
	name := e.index("bulkfail", testMapping())
	docs := []Doc{doctor("d1", true, "1-A", "1-A"), doctor("d2", false, "1-A", "1-B"), doctor("d3", true, "", "1-C"),
		doctor("d4", "notabool", "1-A", "1-A")}
	res, err := e.c.BulkIndex(e.ctx, name, docs)
	require.NoError(t, err)
	assert.Equal(t, 3, res.Indexed)
	require.Len(t, res.Failed, 1)
	f := res.Failed[0]
	assert.Equal(t, "d4", f.ID)
	assert.Equal(t, "mapper_parsing_exception", f.Type)
	assert.Equal(t, 400, f.Status)
	assert.Contains(t, f.Reason, "existsInGmc")
	require.NoError(t, e.c.Refresh(e.ctx, name))
	assert.Equal(t, int64(3), e.count(name))
}

func TestBulkIndexTypeChecks(t *testing.T) {
	e := target(t)
	name := e.index("types", testMapping())
	bad := func(id, field string, v any) Doc {
		d := doctor(id, true, "1-A", "1-A")
		d.Source.(view)[field] = v
		return d
	}
	docs := []Doc{
		bad("long-ok-string", "tcsPersonId", "42"), // numeric strings are coerced
		bad("bool-ok-string", "existsInGmc", "false"),
		bad("long-bad", "tcsPersonId", "abc"),
		bad("date-bad", "submissionDate", "10/11/2025"),
		bad("datetime-bad", "lastConnectionDateTime", "2025-11-10 09:30:00"),
	}
	res, err := e.c.BulkIndex(e.ctx, name, docs, WithRefresh())
	require.NoError(t, err)
	assert.Equal(t, 2, res.Indexed)
	var failed []string
	for _, f := range res.Failed {
		failed = append(failed, f.ID)
		assert.Equal(t, "mapper_parsing_exception", f.Type, f.ID)
	}
	sort.Strings(failed)
	assert.Equal(t, []string{"date-bad", "datetime-bad", "long-bad"}, failed)
}

func TestBulkIndexRedeliveryDoesNotDuplicate(t *testing.T) {
	e := target(t)
	name := e.index("redeliver", testMapping())
	docs := []Doc{doctor("d1", true, "1-A", "1-A"), doctor("d2", true, "1-A", "1-B"), doctor("d3", false, "1-A", "1-A")}
	e.bulk(name, docs...)
	assert.Equal(t, int64(3), e.count(name))
	e.bulk(name, docs...)
	e.bulk(name, docs[1])
	assert.Equal(t, int64(3), e.count(name))
	ids, total, err := e.c.SearchIDs(e.ctx, name, 10)
	require.NoError(t, err)
	sort.Strings(ids)
	assert.Equal(t, []string{"d1", "d2", "d3"}, ids)
	assert.Equal(t, int64(3), total)

	ids, total, err = e.c.SearchIDs(e.ctx, name, 2)
	require.NoError(t, err)
	assert.Len(t, ids, 2)
	assert.Equal(t, int64(3), total)

	res, err := e.c.BulkIndex(e.ctx, name, nil)
	require.NoError(t, err)
	assert.Equal(t, BulkResult{}, res)
}

func TestWritesVisibleOnlyAfterRefresh(t *testing.T) {
	e := target(t)
	// refresh_interval -1 makes real Elasticsearch deterministic here.
	body := testMapping()
	body["settings"] = map[string]any{"index": map[string]any{"refresh_interval": "-1", "number_of_replicas": 0}}
	name := e.index("refresh", body)
	res, err := e.c.BulkIndex(e.ctx, name, []Doc{doctor("d1", true, "1-A", "1-A"), doctor("d2", true, "1-A", "1-A")})
	require.NoError(t, err)
	require.Equal(t, 2, res.Indexed)
	assert.Equal(t, int64(0), e.count(name), "not visible before refresh")
	require.NoError(t, e.c.Refresh(e.ctx, name))
	assert.Equal(t, int64(2), e.count(name))

	res, err = e.c.BulkIndex(e.ctx, name, []Doc{doctor("d3", true, "1-A", "1-A")}, WithRefresh())
	require.NoError(t, err)
	require.Equal(t, 1, res.Indexed)
	assert.Equal(t, int64(3), e.count(name), "?refresh=true makes the write visible")
}

func TestBulkUpsertPartialUpdateKeepsOtherFields(t *testing.T) {
	e := target(t)
	name := e.index("upsert", testMapping())
	acts := e.aliases(name)
	require.NoError(t, e.c.SwitchAliases(e.ctx, acts))
	cc, disc := acts[1].Alias, acts[2].Alias
	e.bulk(name, doctor("a", false, "1-A", "1-B"), doctor("b", true, "1-A", "1-A"))
	assert.Equal(t, int64(1), e.count(cc))
	assert.Equal(t, int64(1), e.count(disc))

	res, err := e.c.BulkUpsert(e.ctx, name, []Doc{
		{ID: "a", Source: map[string]any{"existsInGmc": true}},
		{ID: "n", Source: map[string]any{"gmcReferenceNumber": "gmcn", "existsInGmc": true}},
		{ID: "b", Source: map[string]any{"existsInGmc": true}}, // unchanged: noop still succeeds
	}, WithRefresh())
	require.NoError(t, err)
	assert.Empty(t, res.Failed)
	assert.Equal(t, 3, res.Indexed)
	assert.Equal(t, int64(3), e.count(name), "upsert created n")
	assert.Equal(t, int64(3), e.count(cc), "a now existsInGmc")
	assert.Equal(t, int64(1), e.count(disc), "a kept designatedBody/tcsDesignatedBody")

	res, err = e.c.BulkUpsert(e.ctx, name, []Doc{{ID: "b", Source: map[string]any{"existsInGmc": "maybe"}}})
	require.NoError(t, err)
	require.Len(t, res.Failed, 1)
	assert.Equal(t, "mapper_parsing_exception", res.Failed[0].Type)

	_, err = e.c.BulkUpsert(e.ctx, name, []Doc{{Source: map[string]any{}}})
	assert.Error(t, err, "upsert needs an id")
}

// Writers updating one document at once (two consumers holding duplicates of one message)
// do not refuse each other with a version conflict.
func TestBulkUpsertConcurrentUpdatesOfOneDocumentAllSucceed(t *testing.T) {
	e := target(t)
	name := e.index("upsert-race", testMapping())
	var wg sync.WaitGroup
	failed := make(chan []ItemError, 8)
	for i := range 8 {
		wg.Go(func() {
			docs := make([]Doc, 0, 50)
			for j := range 50 {
				docs = append(docs, Doc{ID: "d" + strconv.Itoa(j), Source: map[string]any{"tisStatus": "S" + strconv.Itoa(i), "existsInGmc": true}})
			}
			res, err := e.c.BulkUpsert(e.ctx, name, docs)
			if err == nil {
				failed <- res.Failed
			}
		})
	}
	wg.Wait()
	close(failed)
	n := 0
	for f := range failed {
		n++
		assert.Empty(t, f)
	}
	assert.Equal(t, 8, n, "every bulk request answered")
	require.NoError(t, e.c.Refresh(e.ctx, name))
	assert.Equal(t, int64(50), e.count(name))
}

func TestFilteredAliasesCount(t *testing.T) {
	e := target(t)
	name := e.index("filters", testMapping())
	acts := e.aliases(name)
	require.NoError(t, e.c.SwitchAliases(e.ctx, acts))
	e.bulk(name,
		doctor("d1", true, "1-A", "1-A"),   // connected, no discrepancy
		doctor("d2", true, "1-A", "1-B"),   // connected, discrepancy
		doctor("d3", false, "", "1-C"),     // not in GMC, TIS-only designated body: discrepancy
		doctor("d4", false, "", ""),        // neither: equal (both empty)
		doctor("d5", nil, "1-a", "1-A"),    // keyword compare is case sensitive: discrepancy
		doctor("d6", "true", "1-A", "1-A"), // "true" string is a boolean true
	)
	assert.Equal(t, int64(6), e.count(acts[0].Alias), "the first alias is unfiltered")
	assert.Equal(t, int64(3), e.count(acts[1].Alias), "connected: existsInGmc true")
	assert.Equal(t, int64(3), e.count(acts[2].Alias), "differ: tcsDesignatedBody != designatedBody")
	assert.Equal(t, int64(6), e.count(acts[3].Alias), "the fourth alias is unfiltered")
	ids, total, err := e.c.SearchIDs(e.ctx, acts[2].Alias, 10)
	require.NoError(t, err)
	sort.Strings(ids)
	assert.Equal(t, []string{"d2", "d3", "d5"}, ids)
	assert.Equal(t, int64(3), total)
}

func TestSwitchAliasesMovesAllInOneCall(t *testing.T) {
	e := target(t)
	a := e.index("build-a", testMapping())
	b := e.index("build-b", testMapping())
	e.bulk(a, doctor("a1", true, "1-A", "1-A"), doctor("a2", true, "1-A", "1-B"))
	e.bulk(b, doctor("b1", true, "1-A", "1-A"), doctor("b2", false, "1-A", "1-B"), doctor("b3", true, "1-A", "1-C"))
	onA := e.aliases(a)
	require.NoError(t, e.c.SwitchAliases(e.ctx, onA))
	for _, act := range onA {
		got, err := e.c.AliasIndices(e.ctx, act.Alias)
		require.NoError(t, err)
		assert.Equal(t, []string{a}, got, act.Alias)
	}
	assert.Equal(t, int64(2), e.count(onA[1].Alias))

	switchActs := append(removeAll(onA, a), e.aliases(b)...)
	require.NoError(t, e.c.SwitchAliases(e.ctx, switchActs))
	for _, act := range onA {
		got, err := e.c.AliasIndices(e.ctx, act.Alias)
		require.NoError(t, err)
		assert.Equal(t, []string{b}, got, act.Alias)
	}
	assert.Equal(t, int64(3), e.count(onA[0].Alias))
	assert.Equal(t, int64(2), e.count(onA[1].Alias), "the term-filtered alias follows B with its filter")
	assert.Equal(t, int64(2), e.count(onA[2].Alias), "the script-filtered alias follows B with its filter")
	assert.Equal(t, int64(3), e.count(onA[3].Alias))
}

func TestSwitchAliasesIsAtomic(t *testing.T) {
	e := target(t)
	a := e.index("atomic-a", testMapping())
	b := e.index("atomic-b", testMapping())
	onA := e.aliases(a)
	require.NoError(t, e.c.SwitchAliases(e.ctx, onA))

	acts := append(removeAll(onA, a), e.aliases(b)...)
	acts = append(acts, AliasAction{Add: true, Index: e.p + "missing", Alias: e.p + "extra"})
	err := e.c.SwitchAliases(e.ctx, acts)
	require.Error(t, err)
	assert.True(t, IsNotFound(err), "%v", err)
	for _, act := range onA {
		got, err := e.c.AliasIndices(e.ctx, act.Alias)
		require.NoError(t, err)
		assert.Equal(t, []string{a}, got, "%s must be unchanged", act.Alias)
	}

	// Removing an alias that is not there fails the whole request too.
	err = e.c.SwitchAliases(e.ctx, []AliasAction{
		{Index: a, Alias: onA[0].Alias}, {Index: b, Alias: e.p + "never-added"}, {Add: true, Index: b, Alias: onA[0].Alias},
	})
	require.Error(t, err)
	got, err := e.c.AliasIndices(e.ctx, onA[0].Alias)
	require.NoError(t, err)
	assert.Equal(t, []string{a}, got)
}

func TestSwitchAliasesReplacesLegacyConcreteIndex(t *testing.T) {
	e := target(t)
	legacy := e.index("legacy", testMapping())
	build := e.index("legacy-20260101000000", testMapping())
	e.bulk(legacy, doctor("old", true, "1-A", "1-A"))
	e.bulk(build, doctor("n1", true, "1-A", "1-A"), doctor("n2", true, "1-A", "1-A"))

	err := e.c.SwitchAliases(e.ctx, []AliasAction{{Add: true, Index: build, Alias: legacy}})
	require.Error(t, err, "an alias cannot shadow an existing index")
	assert.Equal(t, "invalid_alias_name_exception", ErrorType(err))

	require.NoError(t, e.c.SwitchAliases(e.ctx, []AliasAction{
		{Add: true, Index: build, Alias: legacy}, {RemoveIndex: true, Index: legacy},
	}))
	got, err := e.c.AliasIndices(e.ctx, legacy)
	require.NoError(t, err)
	assert.Equal(t, []string{build}, got)
	assert.Equal(t, int64(2), e.count(legacy))
	err = e.c.DeleteIndex(e.ctx, legacy)
	require.Error(t, err, "the name is an alias now, not an index")
}

func TestAliasIndicesMissingAlias(t *testing.T) {
	e := target(t)
	got, err := e.c.AliasIndices(e.ctx, e.p+"no-such-alias")
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.NotNil(t, got)
}

func TestDeleteIndexTwiceIsNotFound(t *testing.T) {
	e := target(t)
	name := e.index("delete", nil)
	require.NoError(t, e.c.DeleteIndex(e.ctx, name))
	ok, err := e.c.IndexExists(e.ctx, name)
	require.NoError(t, err)
	assert.False(t, ok)
	err = e.c.DeleteIndex(e.ctx, name)
	require.Error(t, err)
	assert.True(t, IsNotFound(err), "%v", err)
	assert.False(t, IsAlreadyExists(err))
}

func TestCountMissingIndexIsNotFound(t *testing.T) {
	e := target(t)
	_, err := e.c.Count(e.ctx, e.p+"missing")
	require.Error(t, err)
	assert.True(t, IsNotFound(err), "%v", err)
	_, _, err = e.c.SearchIDs(e.ctx, e.p+"missing", 1)
	assert.True(t, IsNotFound(err), "%v", err)
}

func TestListIndicesSortedByCreation(t *testing.T) {
	e := target(t)
	var want []string
	for _, s := range []string{"b", "c", "a"} {
		want = append(want, e.index("list-"+s, testMapping()))
		time.Sleep(5 * time.Millisecond)
	}
	e.index("other", nil)
	e.bulk(want[1], doctor("x1", true, "1-A", "1-A"), doctor("x2", true, "1-A", "1-A"))

	got, err := e.c.ListIndices(e.ctx, e.p+"list-*")
	require.NoError(t, err)
	var names []string
	for i, ix := range got {
		names = append(names, ix.Name)
		assert.False(t, ix.CreationDate.IsZero())
		if i > 0 {
			assert.False(t, ix.CreationDate.Before(got[i-1].CreationDate))
		}
	}
	assert.Equal(t, want, names)
	assert.Equal(t, int64(2), got[1].Docs)
	assert.WithinDuration(t, time.Now(), got[0].CreationDate, 10*time.Minute)

	got, err = e.c.ListIndices(e.ctx, e.p+"nothing-*")
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestCountQueryExistsTermAndThroughAFilteredAlias(t *testing.T) {
	e := target(t)
	name := e.index("countq", testMapping())
	acts := e.aliases(name)
	require.NoError(t, e.c.SwitchAliases(e.ctx, acts))
	noTCS := doctor("d4", true, "1-A", "1-B")
	delete(noTCS.Source.(view), "tcsPersonId") // a GMC-only doctor
	noTCS.Source.(view)["gmcStatus"] = ""      // an empty string exists
	withStatus := doctor("d2", false, "1-A", "1-B")
	withStatus.Source.(view)["gmcStatus"] = "Approved"
	e.bulk(name,
		doctor("d1", true, "1-A", "1-A"),
		withStatus,
		doctor("d3", nil, "1-A", "1-A"), // not seen by GMC: no existsInGmc field
		noTCS,
	)
	count := func(indexOrAlias string, q map[string]any) int64 {
		t.Helper()
		n, err := e.c.CountQuery(e.ctx, indexOrAlias, q)
		require.NoError(t, err)
		return n
	}
	exists := func(field string) map[string]any { return map[string]any{"exists": map[string]any{"field": field}} }
	assert.Equal(t, int64(3), count(name, exists("existsInGmc")))
	assert.Equal(t, int64(1), count(name, map[string]any{"bool": map[string]any{"must_not": []any{exists("existsInGmc")}}}))
	assert.Equal(t, int64(3), count(name, exists("tcsPersonId")), "long field")
	assert.Equal(t, int64(1), count(name, map[string]any{"bool": map[string]any{"must_not": []any{exists("tcsPersonId")}}}))
	assert.Equal(t, int64(2), count(name, exists("gmcStatus")), "text field; an empty string exists")
	assert.Equal(t, int64(0), count(name, exists("noSuchField")))
	assert.Equal(t, int64(2), count(name, map[string]any{"term": map[string]any{"existsInGmc": true}}))
	assert.Equal(t, int64(1), count(name, map[string]any{"term": map[string]any{"gmcReferenceNumber.keyword": "gmcd2"}}))
	assert.Equal(t, int64(4), count(name, nil), "nil query counts everything")

	// Through filtered aliases the alias filter applies too.
	assert.Equal(t, int64(1), count(acts[1].Alias, exists("tcsPersonId")), "current_connections AND has TCS data")
	assert.Equal(t, int64(2), count(acts[2].Alias, exists("existsInGmc")), "discrepancies AND seen by GMC")
	assert.Equal(t, int64(1), count(acts[2].Alias, map[string]any{"term": map[string]any{"existsInGmc": false}}))

	// Counts follow later writes after a refresh.
	e.bulk(name, doctor("d5", true, "1-A", "1-C"))
	assert.Equal(t, int64(4), count(name, exists("existsInGmc")))
	assert.Equal(t, int64(2), count(acts[1].Alias, exists("tcsPersonId")))
	res, err := e.c.BulkUpsert(e.ctx, name, []Doc{{ID: "d1", Source: map[string]any{"existsInGmc": false}}}, WithRefresh())
	require.NoError(t, err)
	require.Empty(t, res.Failed)
	assert.Equal(t, int64(1), count(acts[1].Alias, exists("tcsPersonId")))

	_, err = e.c.CountQuery(e.ctx, e.p+"missing", exists("existsInGmc"))
	require.Error(t, err)
	assert.True(t, IsNotFound(err), "%v", err)
	assert.Contains(t, err.Error(), e.p+"missing")
}

func TestScanReadsEveryDocumentOnceWithOnlyTheRequestedFields(t *testing.T) {
	e := target(t)
	name := e.index("scan", testMapping())
	const n = 12345
	docs := make([]Doc, 0, n)
	for i := range n {
		id := strconv.Itoa(i)
		docs = append(docs, Doc{ID: id, Source: view{"gmcReferenceNumber": "g" + id, "doctorFirstName": "Secret", "tcsPersonId": i}})
	}
	res, err := e.c.BulkIndex(e.ctx, name, docs, WithRefresh(), WithBatchSize(5000))
	require.NoError(t, err)
	require.Empty(t, res.Failed)
	seen := map[string]bool{}
	calls := 0
	err = e.c.Scan(e.ctx, name, []string{"gmcReferenceNumber"}, 5000, func(id string, src json.RawMessage) error {
		calls++
		assert.False(t, seen[id], "document %s scanned twice", id)
		seen[id] = true
		var fields map[string]any
		require.NoError(t, json.Unmarshal(src, &fields))
		assert.Equal(t, map[string]any{"gmcReferenceNumber": "g" + id}, fields)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, n, calls)
	assert.Len(t, seen, n)

	// nil fields: the whole source; an oversized page is capped (ES refuses > 10 000).
	calls = 0
	err = e.c.Scan(e.ctx, name, nil, 50000, func(id string, src json.RawMessage) error {
		calls++
		var fields map[string]any
		require.NoError(t, json.Unmarshal(src, &fields))
		assert.Len(t, fields, 3)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, n, calls)

	empty := e.index("scan-empty", testMapping())
	calls = 0
	require.NoError(t, e.c.Scan(e.ctx, empty, nil, 100, func(string, json.RawMessage) error { calls++; return nil }))
	assert.Zero(t, calls)

	err = e.c.Scan(e.ctx, e.p+"missing", nil, 100, func(string, json.RawMessage) error { return nil })
	require.Error(t, err)
	assert.True(t, IsNotFound(err), "%v", err)
	assert.Contains(t, err.Error(), e.p+"missing")

	stop := errors.New("enough")
	calls = 0
	err = e.c.Scan(e.ctx, name, nil, 1000, func(string, json.RawMessage) error {
		calls++
		if calls == 10 {
			return stop
		}
		return nil
	})
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 10, calls)
}

func TestScanIsASnapshotAndFollowsAliasFilters(t *testing.T) {
	e := target(t)
	name := e.index("scan-snap", testMapping())
	acts := e.aliases(name)
	require.NoError(t, e.c.SwitchAliases(e.ctx, acts))
	var docs []Doc
	for i := range 30 {
		docs = append(docs, doctor("s"+strconv.Itoa(i), i%3 == 0, "1-A", "1-A"))
	}
	e.bulk(name, docs...)

	seen := map[string]bool{}
	err := e.c.Scan(e.ctx, name, []string{"id"}, 7, func(id string, _ json.RawMessage) error {
		if len(seen) == 0 { // writes after the first page do not show through the scroll
			e.bulk(name, doctor("late", true, "1-A", "1-A"))
			res, err := e.c.BulkUpsert(e.ctx, name, []Doc{{ID: "s29", Source: map[string]any{"existsInGmc": true}}}, WithRefresh())
			require.NoError(t, err)
			require.Empty(t, res.Failed)
		}
		seen[id] = true
		return nil
	})
	require.NoError(t, err)
	assert.Len(t, seen, 30)
	assert.False(t, seen["late"])
	assert.Equal(t, int64(31), e.count(name), "the late document is there for later reads")

	var connected []string
	err = e.c.Scan(e.ctx, acts[1].Alias, []string{"existsInGmc"}, 4, func(id string, src json.RawMessage) error {
		connected = append(connected, id)
		assert.JSONEq(t, `{"existsInGmc":true}`, string(src))
		return nil
	})
	require.NoError(t, err)
	sort.Strings(connected)
	assert.Len(t, connected, 12, "10 of s0..s29, s29 (updated) and late: %v", connected)
	assert.Contains(t, connected, "late")
	assert.Contains(t, connected, "s29")
}
