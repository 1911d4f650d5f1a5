package revalsim

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/reval"
)

// serveCommand is the shape both peers share: consume a start queue one message at a time,
// reject (without requeue) anything but the exact JSON string command, answer it, and only
// then acknowledge it, so a peer that dies mid-answer is asked again. It returns nil when ctx
// ends.
func serveCommand(ctx context.Context, conn *amqpx.Conn, queue, command string, answered interface{ Add(int32) int32 },
	answer func(context.Context) error) error {
	if err := conn.Declare(reval.Topology()); err != nil {
		return err
	}
	cons, err := conn.Consume(queue, 1)
	if err != nil {
		return err
	}
	defer cons.Close()
	for {
		batch, err := cons.Batch(ctx, 1, time.Second)
		if errors.Is(err, amqpx.ErrIdle) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var start string
		if err := json.Unmarshal(batch[0].Body, &start); err != nil || start != command {
			_ = batch[0].Reject(false) // the services require exactly their command
			continue
		}
		if err := answer(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := cons.Ack(batch[0]); err != nil {
			return err
		}
		answered.Add(1)
	}
}
