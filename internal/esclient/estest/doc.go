// Package estest is a TEST-ONLY server speaking the subset of the Elasticsearch 7 REST
// API that package esclient uses, with Elasticsearch's documented semantics for that
// subset (refresh visibility, mapping type checks, filtered aliases, atomic _aliases,
// scroll snapshots, _source filtering, error shapes). State lives in memory only.
//
// It exists because Elasticsearch cannot be installed where opsflow's tests run; the
// esclient contract suite runs against it by default and against a real cluster when
// OPSFLOW_ES_URL is set, so any divergence shows up there. Tests use Start (in the test
// process); the demo and the end-to-end benchmark, whose worker is a separate process,
// run NewHandler as the estest-server command. Production code must never import this
// package.
//
// Anything outside the subset is answered with HTTP 400 and an ES-shaped error whose
// reason starts with "estest:", and is logged (t.Logf, or the logf given to NewHandler),
// so gaps are visible instead of silently "working".
package estest
