// Package estest is a TEST-ONLY, in-process server speaking the subset of
// the Elasticsearch 7 REST API that package esclient uses, with
// Elasticsearch's documented semantics for that subset (refresh visibility,
// mapping type checks, filtered aliases, atomic _aliases, error shapes).
//
// It exists because Elasticsearch cannot be installed where opsflow's tests
// run; the esclient contract suite runs against it by default and against a
// real cluster when OPSFLOW_ES_URL is set, so any divergence shows up there.
// Production code must never import this package.
//
// Anything outside the subset is answered with HTTP 400 and an ES-shaped
// error whose reason starts with "estest:", and is logged via t.Logf, so
// gaps are visible instead of silently "working".
package estest
