package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/revalsim"
)

// seedLiveIndex gives the aliases an index to serve while the sync builds the new one, as
// in production, so the alias reader measures the switch and not an empty start. It runs on
// the wiped engine (no masterdoctorindex* left), named an hour back so the sync's build is
// the newer one.
func seedLiveIndex(ctx context.Context, es *esclient.Client, docs int, seed uint64) (string, error) {
	live := reval.MasterDoctorIndexName(time.Now().Add(-time.Hour))
	if err := es.CreateIndex(ctx, live, reval.MasterDoctorMapping()); err != nil {
		return "", err
	}
	batch := make([]esclient.Doc, 0, docs)
	for i := range docs {
		// Another seed than the sync's: the live build is "yesterday's" population.
		g := revalsim.Generate(seed+1, i)
		src := reval.ConnectionDoc(g.Connection)
		for k, v := range reval.GMCDoc(g.GMC) {
			src[k] = v
		}
		src["existsInGmc"] = true // every reader poll must find documents behind current_connections
		batch = append(batch, esclient.Doc{ID: reval.DocID(g.Connection.TCSPersonID), Source: src})
	}
	res, err := es.BulkIndex(ctx, live, batch, esclient.WithRefresh())
	if err != nil {
		return "", err
	}
	if len(res.Failed) > 0 {
		return "", fmt.Errorf("seed live index %s: %d documents refused, first: %v", live, len(res.Failed), res.Failed[0])
	}
	if err := es.SwitchAliases(ctx, reval.AddAliases(live)); err != nil {
		return "", err
	}
	return live, nil
}

// aliasReader polls current_connections every 50 ms for the whole sync, the way the
// connection service's list reads it. A failed read or an empty answer counts as outage
// from the previous read on, so the outage is the time a user could have seen no list.
type aliasReader struct {
	mu                       sync.Mutex
	reads, failures, empties int64
	outage, slowest          time.Duration
	firstProblem             string
}

func (r *aliasReader) run(ctx context.Context, es *esclient.Client) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	prev := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		began := time.Now()
		n, err := es.Count(ctx, reval.CurrentConnectionsAlias)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		r.mu.Lock()
		r.reads++
		r.slowest = max(r.slowest, now.Sub(began))
		problem := ""
		switch {
		case err != nil:
			r.failures++
			problem = err.Error()
		case n == 0:
			r.empties++
			problem = "current_connections returned 0 documents"
		}
		if problem != "" {
			r.outage += now.Sub(prev)
			if r.firstProblem == "" {
				r.firstProblem = now.Format(time.RFC3339Nano) + " " + problem
			}
		}
		r.mu.Unlock()
		prev = now
	}
}
