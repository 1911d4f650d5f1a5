package main

import (
	"github.com/opsflow/opsflow/internal/clarity"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/limsexport"
)

// limsQueue is the LIMS export queue the configuration names: a Clarity LIMS, a directory queue
// (the demo's), or nil when neither is configured.
func limsQueue(cfg config.Config) (limsexport.Queue, error) {
	m := cfg.Movers
	switch {
	case m.LimsURL != "":
		c, err := clarity.New(m.LimsURL, m.LimsUser, m.LimsPassword, nil)
		if err != nil {
			return nil, err
		}
		return limsexport.ClarityQueue{Client: c, QueueID: m.LimsQueue, StageURI: m.LimsStage,
			ReadsRoot: m.LimsReadsRoot, UDFs: limsexport.DefaultClarityUDFs}, nil
	case m.LimsQueueDir != "":
		return limsexport.DirQueue{Dir: m.LimsQueueDir}, nil
	}
	return nil, nil
}
