package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/opsflow/opsflow/internal/amqpx"
)

// RabbitActivities publish the revalidation sync's commands on reval.exchange. Each call
// dials its own connection, so a broker restart between steps costs one retry, not a
// stuck worker.
type RabbitActivities struct {
	Dial func() (*amqpx.Conn, error)
}

// Routing keys of the sync's commands and the JSON strings they carry (the services use
// Jackson, so a command is a JSON string: "syncStart" with the quotes).
const (
	SyncStartKey      = "reval.connection.syncstart"
	GMCSyncStartKey   = "reval.recommendation.syncstart"
	IndexRebuildKey   = "reval.indexrebuildgetmastercommand.requested"
	SyncDataQueue     = "reval.queue.connection.syncdata"
	SyncStartCommand  = "syncStart"
	GMCSyncCommand    = "gmcSyncStart"
	GetMasterCommand  = "getMaster"
	revalExchangeName = "reval.exchange"
)

// CommandInput is one command to publish.
type CommandInput struct {
	RoutingKey string `json:"routingKey"`
	Command    string `json:"command"`
}

// PublishRevalCommand publishes a command and returns once the broker confirmed it; an
// unroutable command (no queue bound) is an error, never a silent drop.
func (a *RabbitActivities) PublishRevalCommand(ctx context.Context, in CommandInput) error {
	conn, err := a.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Declare(amqpx.RevalTopology()); err != nil {
		return err
	}
	pub, err := conn.NewPublisher()
	if err != nil {
		return err
	}
	defer pub.Close()
	body, err := json.Marshal(in.Command)
	if err != nil {
		return err
	}
	return pub.Publish(ctx, revalExchangeName, in.RoutingKey, body)
}

// ClearResult says how many stale messages were dropped before the sync started.
type ClearResult struct {
	SyncData int `json:"syncData"`
}

// ClearSyncData empties reval.queue.connection.syncdata before syncStart: messages left
// by an earlier, aborted sync (including its syncEnd) would otherwise end this one early
// or mix old doctors in.
func (a *RabbitActivities) ClearSyncData(ctx context.Context) (ClearResult, error) {
	conn, err := a.Dial()
	if err != nil {
		return ClearResult{}, err
	}
	defer conn.Close()
	if err := conn.Declare(amqpx.RevalTopology()); err != nil {
		return ClearResult{}, err
	}
	n, err := conn.Purge(SyncDataQueue)
	if err != nil {
		return ClearResult{}, fmt.Errorf("purge %s: %w", SyncDataQueue, err)
	}
	return ClearResult{SyncData: n}, nil
}
