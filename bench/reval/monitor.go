package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/opsflow/opsflow/internal/sqsclient"
)

// localSQSLimit is local-aws-sqs 2.0.2's in-flight limit (AWS's 120 000), which that server
// wrongly applies to the VISIBLE messages: once about 120 000 wait in the queue, every
// ReceiveMessage fails with OverLimit, and since only receiving drains the queue it never
// recovers. A GMC leg whose consumer is slower than the producer hits it from ~120 000
// doctors on.
const localSQSLimit = 120000

// overLimitHelp explains the OverLimit failure, which otherwise reads like a consumer bug.
const overLimitHelp = "the SQS server refuses every receive once ~120 000 messages wait in the queue " +
	"(local-aws-sqs 2.0.2 applies AWS's in-flight limit to visible messages; see bench/README.md): " +
	"the producer outran the consumer; run fewer doctors, or an SQS server without that bug"

// explainSQS adds overLimitHelp to an OverLimit error.
func explainSQS(err error) error {
	if err != nil && strings.Contains(err.Error(), "OverLimit") {
		return fmt.Errorf("%w\n%s", err, overLimitHelp)
	}
	return err
}

// backlog is the largest queue depth a leg saw: near 0 means the consumer kept up with the
// producer (the producer set the pace), growing means the consumer was the bottleneck.
type backlog struct {
	RabbitMax, SQSMax int
}

// monitor samples the depth of the syncData queue and the GMC queue every second, prints
// them now and then so a long run shows progress, and reports when the GMC queue is stuck
// above localSQSLimit (the run could then only end by its timeouts). Stuck means: for 1 min
// at least that many messages waited, none was in flight and the number never went down,
// which is what the bug looks like; an SQS server without it may hold more, and drains.
type monitor struct {
	mu     sync.Mutex
	peak   backlog
	stuck  chan error
	amqp   string
	sqs    *sqsclient.Client
	sqsURL string
}

func newMonitor(amqpURL string, sqs *sqsclient.Client, queueURL string) *monitor {
	return &monitor{amqp: amqpURL, sqs: sqs, sqsURL: queueURL, stuck: make(chan error, 1)}
}

// take returns the peaks since the previous take and starts over, one call per leg.
func (m *monitor) take() backlog {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peak
	m.peak = backlog{}
	select {
	case <-m.stuck: // a leg that was stuck has failed already
	default:
	}
	return p
}

func (m *monitor) run(ctx context.Context) {
	conn, err := amqp.Dial(m.amqp)
	if err != nil {
		say("monitor: %v", err)
		return
	}
	defer conn.Close()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var over time.Time
	prevWaiting := 0
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rabbit := -1
		if ch, err := conn.Channel(); err == nil {
			if q, err := ch.QueueDeclarePassive(syncDataQueue, true, false, false, false, nil); err == nil {
				rabbit = q.Messages // ready, not yet delivered to the consumer
			}
			ch.Close()
		}
		// local-aws-sqs counts in-flight messages in "visible" too; waiting = visible - inFlight.
		all, inFlight, err := m.sqs.ApproximateCount(ctx, m.sqsURL)
		waiting := all - inFlight
		if err != nil {
			waiting = -1
		}
		m.mu.Lock()
		m.peak.RabbitMax = max(m.peak.RabbitMax, rabbit)
		m.peak.SQSMax = max(m.peak.SQSMax, waiting)
		m.mu.Unlock()
		if i%15 == 0 {
			say("queues: %s %d waiting; SQS %d waiting, %d in flight", syncDataQueue, rabbit, waiting, inFlight)
		}
		draining := inFlight > 0 || waiting < prevWaiting
		prevWaiting = waiting
		switch {
		case waiting+10 < localSQSLimit || draining:
			over = time.Time{}
		case over.IsZero():
			over = time.Now()
		case time.Since(over) > time.Minute:
			select {
			case m.stuck <- fmt.Errorf("SQS queue stuck with %d waiting messages for a minute: %s", waiting, overLimitHelp):
			default:
			}
		}
	}
}
