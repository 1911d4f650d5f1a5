// Package e2e runs opsflow as a user would: the real worker binary against the dev stack's
// Temporal server and S3, runs started with the Temporal CLI and the starter, effects
// checked on disk, in git and in a real supervisord. Build tag e2e; `make test-e2e`.
package e2e
