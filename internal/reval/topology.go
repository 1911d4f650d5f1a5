package reval

import "github.com/opsflow/opsflow/internal/amqpx"

// The revalidation services' RabbitMQ names (routing keys and queue names from the
// services' application.yml defaults) and the commands the sync publishes. The services use
// Jackson, so a command's body is a JSON string: "syncStart" with the quotes.
const (
	// Exchange is the direct exchange every sync message goes through.
	Exchange = "reval.exchange"

	// SyncStartKey asks TCS to send every doctor (SyncStartCommand).
	SyncStartKey   = "reval.connection.syncstart"
	SyncStartQueue = "reval.queue.connection.syncstart"
	// SyncDataKey carries TCS's answer: one ConnectionInfoDto per doctor, then a syncEnd.
	SyncDataKey   = "reval.connection.syncdata"
	SyncDataQueue = "reval.queue.connection.syncdata"
	// GMCSyncStartKey asks the recommendation service for the GMC summaries
	// (GMCSyncStartCommand); it answers on the SQS queue GMCSyncQueue(env).
	GMCSyncStartKey   = "reval.recommendation.syncstart"
	GMCSyncStartQueue = "reval.queue.recommendation.syncstart"
	// IndexRebuildKey asks the downstream services to rebuild from the new index
	// (GetMasterCommand); both of them have a queue bound to it.
	IndexRebuildKey                 = "reval.indexrebuildgetmastercommand.requested"
	IndexRebuildRecommendationQueue = "reval.queue.indexrebuildgetmastercommand.requested.recommendation"
	IndexRebuildConnectionQueue     = "reval.queue.indexrebuildgetmastercommand.requested.connection"

	SyncStartCommand    = "syncStart"
	GMCSyncStartCommand = "gmcSyncStart"
	GetMasterCommand    = "getMaster"
)

// Topology is the services' exchange and the queues of the sync, declared idempotently by
// the worker at start and by every activity that publishes or consumes.
func Topology() amqpx.Topology {
	return amqpx.Topology{Exchange: Exchange, Kind: "direct", Bindings: []amqpx.Binding{
		{Queue: SyncStartQueue, RoutingKey: SyncStartKey},
		{Queue: SyncDataQueue, RoutingKey: SyncDataKey},
		{Queue: GMCSyncStartQueue, RoutingKey: GMCSyncStartKey},
		{Queue: IndexRebuildRecommendationQueue, RoutingKey: IndexRebuildKey},
		{Queue: IndexRebuildConnectionQueue, RoutingKey: IndexRebuildKey},
	}}
}

// GMCSyncQueue is the SQS queue the recommendation service answers gmcSyncStart on, one per
// environment.
func GMCSyncQueue(env string) string { return "tis-revalidation-sync-gmc-queue-" + env }
