package main

import (
	"context"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/sqsclient"
)

// backlog is the largest queue depth a side saw: near 0 means the consumer kept up with the
// producer (the producer set the pace), growing means the consumer was the bottleneck.
type backlog struct {
	RabbitMax, SQSMax int
}

// peaks is what the monitor saw during one side.
type peaks struct {
	backlog
	heapMax, rssMax int64
	// sqsStall is the longest time the GMC queue had nothing visible but the same number of
	// messages in flight: received by a request whose answer never reached the client, and
	// invisible until their visibility timeout ends, while the consumer waits for them.
	sqsStall time.Duration
	inFlight int // of one sample
}

// monitor samples, twice a second, the depth of the syncData queue and of the GMC queue, the
// engine's JVM heap and its process's resident memory, and prints progress every 15 s so a
// long run shows it is alive.
type monitor struct {
	mu   sync.Mutex
	peak peaks
	// stall tracking: since when the queue shows only stallInFlight messages in flight.
	stallSince    time.Time
	stallInFlight int
	amqp          string
	sqs           *sqsclient.Client
	sqsURL        string
	eng           *engine
}

func newMonitor(amqpURL string, sqs *sqsclient.Client, queueURL string, eng *engine) *monitor {
	return &monitor{amqp: amqpURL, sqs: sqs, sqsURL: queueURL, eng: eng}
}

// take returns the peaks since the previous take and starts over: one call before a side,
// one after it.
func (m *monitor) take() peaks {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peak
	m.peak = peaks{}
	return p
}

func (m *monitor) run(ctx context.Context) {
	conn, err := amqp.Dial(m.amqp)
	if err != nil {
		say("monitor: %v", err)
		return
	}
	defer conn.Close()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s := m.sample(ctx, conn)
		m.mu.Lock()
		m.peak.RabbitMax = max(m.peak.RabbitMax, s.RabbitMax)
		m.peak.SQSMax = max(m.peak.SQSMax, s.SQSMax)
		m.peak.heapMax = max(m.peak.heapMax, s.heapMax)
		m.peak.rssMax = max(m.peak.rssMax, s.rssMax)
		m.trackStall(s)
		m.mu.Unlock()
		if i%30 == 0 {
			say("queues: %s %d ready; SQS %d waiting; search engine heap %s, RSS %s",
				reval.SyncDataQueue, s.RabbitMax, s.SQSMax, mb(s.heapMax), mb(s.rssMax))
		}
	}
}

// trackStall updates the longest SQS stall with a sample; m.mu is held.
func (m *monitor) trackStall(s peaks) {
	if s.SQSMax != 0 || s.inFlight <= 0 || s.inFlight != m.stallInFlight {
		m.stallSince, m.stallInFlight = time.Time{}, s.inFlight
		if s.SQSMax == 0 && s.inFlight > 0 {
			m.stallSince = time.Now()
		}
		return
	}
	d := time.Since(m.stallSince)
	if d > 5*time.Second && m.peak.sqsStall <= 5*time.Second {
		say("SQS: nothing visible and the same %d messages in flight for %s: the consumer waits for their visibility timeout "+
			"(a receive whose answer was lost?)", s.inFlight, d.Round(time.Second))
	}
	m.peak.sqsStall = max(m.peak.sqsStall, d)
}

// sample is one reading; a figure that could not be read is -1 (queues) or 0 (memory).
func (m *monitor) sample(ctx context.Context, conn *amqp.Connection) peaks {
	s := peaks{backlog: backlog{RabbitMax: -1, SQSMax: -1}}
	if ch, err := conn.Channel(); err == nil {
		if q, err := ch.QueueDeclarePassive(reval.SyncDataQueue, true, false, false, false, nil); err == nil {
			s.RabbitMax = q.Messages // ready, not yet delivered to the consumer
		}
		ch.Close()
	}
	// ElasticMQ and AWS count received (in-flight) messages apart: visible = waiting.
	if visible, inFlight, err := m.sqs.ApproximateCount(ctx, m.sqsURL); err == nil {
		s.SQSMax, s.inFlight = visible, inFlight
	}
	if h, err := m.eng.jvmHeap(ctx); err == nil {
		s.heapMax = h.Used
	}
	if m.eng.pid > 0 {
		s.rssMax, _ = vmRSS(strconv.Itoa(m.eng.pid))
	}
	return s
}
