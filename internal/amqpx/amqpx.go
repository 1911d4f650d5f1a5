// Package amqpx is opsflow's small RabbitMQ layer: declare a topology idempotently, publish
// persistent messages with publisher confirms, and consume in batches that are acknowledged
// only after the caller has stored them, so a crash re-delivers instead of losing.
package amqpx

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Binding routes a routing key of the exchange to a durable queue.
type Binding struct {
	Queue      string
	RoutingKey string
}

// Topology is an exchange and its queues.
type Topology struct {
	Exchange string
	// Kind is the exchange type; "direct" routes exact routing keys.
	Kind     string
	Bindings []Binding
}

// Conn is one AMQP connection; channels are opened per use.
type Conn struct {
	conn *amqp.Connection
	url  string // without password, for messages
}

// Dial connects; the error names the broker without its password.
func Dial(rawURL string) (*Conn, error) {
	safe := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		safe = u.Redacted()
	}
	c, err := amqp.DialConfig(rawURL, amqp.Config{Heartbeat: 10 * time.Second, Locale: "en_US"})
	if err != nil {
		return nil, fmt.Errorf("rabbitmq at %s: %w", safe, err)
	}
	return &Conn{conn: c, url: safe}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.conn.Close() }

// Declare creates the exchange, queues and bindings if missing (safe to repeat).
func (c *Conn) Declare(t Topology) error {
	ch, err := c.conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	kind := t.Kind
	if kind == "" {
		kind = amqp.ExchangeDirect
	}
	if err := ch.ExchangeDeclare(t.Exchange, kind, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s on %s: %w", t.Exchange, c.url, err)
	}
	for _, b := range t.Bindings {
		if _, err := ch.QueueDeclare(b.Queue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare queue %s: %w", b.Queue, err)
		}
		if err := ch.QueueBind(b.Queue, b.RoutingKey, t.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind %s to %s/%s: %w", b.Queue, t.Exchange, b.RoutingKey, err)
		}
	}
	return nil
}

// Publisher publishes persistent messages and waits for the broker's confirmation.
type Publisher struct {
	ch *amqp.Channel
}

// NewPublisher opens a channel in confirm mode.
func (c *Conn) NewPublisher() (*Publisher, error) {
	ch, err := c.conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, err
	}
	return &Publisher{ch: ch}, nil
}

// Publish sends body (JSON) and returns once the broker has confirmed it. mandatory=true
// makes an unroutable message an error instead of a silent drop.
func (p *Publisher) Publish(ctx context.Context, exchange, key string, body []byte) error {
	returns := p.ch.NotifyReturn(make(chan amqp.Return, 1))
	conf, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, amqp.Publishing{
		ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: body,
	})
	if err != nil {
		return fmt.Errorf("publish to %s/%s: %w", exchange, key, err)
	}
	ok, err := conf.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("publish to %s/%s: %w", exchange, key, err)
	}
	select {
	case r := <-returns:
		return fmt.Errorf("publish to %s/%s: returned unroutable (%d %s)", exchange, key, r.ReplyCode, r.ReplyText)
	default:
	}
	if !ok {
		return fmt.Errorf("publish to %s/%s: broker refused the message", exchange, key)
	}
	return nil
}

// Close closes the publisher's channel.
func (p *Publisher) Close() error { return p.ch.Close() }

// Consumer reads a queue with at most prefetch unacknowledged messages in flight.
type Consumer struct {
	ch         *amqp.Channel
	deliveries <-chan amqp.Delivery
	queue      string
}

// Consume starts consuming queue with manual acknowledgements.
func (c *Conn) Consume(queue string, prefetch int) (*Consumer, error) {
	ch, err := c.conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		ch.Close()
		return nil, err
	}
	d, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		ch.Close()
		return nil, fmt.Errorf("consume %s: %w", queue, err)
	}
	return &Consumer{ch: ch, deliveries: d, queue: queue}, nil
}

// ErrIdle says no message arrived within the wait.
var ErrIdle = errors.New("amqpx: no message within the wait")

// Batch returns up to max messages: it waits up to wait for the first, then takes what is
// already there. The caller stores them, then calls Ack(last).
func (c *Consumer) Batch(ctx context.Context, max int, wait time.Duration) ([]amqp.Delivery, error) {
	var out []amqp.Delivery
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case d, ok := <-c.deliveries:
		if !ok {
			return nil, fmt.Errorf("consume %s: channel closed", c.queue)
		}
		out = append(out, d)
	case <-timer.C:
		return nil, ErrIdle
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for len(out) < max {
		select {
		case d, ok := <-c.deliveries:
			if !ok {
				return out, nil
			}
			out = append(out, d)
		default:
			return out, nil
		}
	}
	return out, nil
}

// Ack acknowledges every delivery up to and including last.
func (c *Consumer) Ack(last amqp.Delivery) error { return last.Ack(true) }

// Close stops consuming; unacknowledged messages go back to the queue.
func (c *Consumer) Close() error { return c.ch.Close() }

// Purge empties a queue, for tests and for a sync's clean start.
func (c *Conn) Purge(queue string) (int, error) {
	ch, err := c.conn.Channel()
	if err != nil {
		return 0, err
	}
	defer ch.Close()
	return ch.QueuePurge(queue, false)
}

// PublishBatch sends bodies in order and returns once the broker confirmed every one:
// all are published first, then the confirmations are awaited together, so a producer of
// hundreds of thousands of messages is not held to one round trip per message. Any
// message refused or returned unroutable makes it an error naming its position.
func (p *Publisher) PublishBatch(ctx context.Context, exchange, key string, bodies [][]byte) error {
	returns := p.ch.NotifyReturn(make(chan amqp.Return, len(bodies)))
	confs := make([]*amqp.DeferredConfirmation, 0, len(bodies))
	for i, body := range bodies {
		conf, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: body,
		})
		if err != nil {
			return fmt.Errorf("publish message %d to %s/%s: %w", i, exchange, key, err)
		}
		confs = append(confs, conf)
	}
	for i, conf := range confs {
		ok, err := conf.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("publish message %d to %s/%s: %w", i, exchange, key, err)
		}
		if !ok {
			return fmt.Errorf("publish message %d to %s/%s: broker refused it", i, exchange, key)
		}
	}
	select {
	case r := <-returns:
		return fmt.Errorf("publish to %s/%s: a message was returned unroutable (%d %s)", exchange, key, r.ReplyCode, r.ReplyText)
	default:
	}
	return nil
}

// Fill is Batch for bulk writers: after the first message it keeps collecting for up to
// linger (or until max), so a consumer that keeps pace with its producer still writes
// full batches instead of many small ones.
func (c *Consumer) Fill(ctx context.Context, max int, wait, linger time.Duration) ([]amqp.Delivery, error) {
	out, err := c.Batch(ctx, max, wait)
	if err != nil || len(out) >= max {
		return out, err
	}
	timer := time.NewTimer(linger)
	defer timer.Stop()
	for len(out) < max {
		select {
		case d, ok := <-c.deliveries:
			if !ok {
				return out, nil
			}
			out = append(out, d)
		case <-timer.C:
			return out, nil
		case <-ctx.Done():
			return out, nil // the caller sees ctx.Err() on its next call; these are not acked
		}
	}
	return out, nil
}
