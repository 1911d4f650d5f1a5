// Package sqsclient is opsflow's small wrapper over the AWS SDK's SQS client, holding only what
// the runbooks that consume queues need (it knows no procedure's queue names): batching to SQS's limits, long polling that honours
// cancellation, and deletes that report exactly which messages were not deleted.
//
// The runbooks delete a message only after it was processed: a received but undeleted message
// becomes visible again once its visibility timeout ends, so a crash between receive and delete
// re-delivers it instead of losing it.
package sqsclient

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const (
	// MaxBatch is SQS's limit of entries in one SendMessageBatch, DeleteMessageBatch or
	// ReceiveMessage call; larger inputs are split (send, delete) or refused (receive).
	MaxBatch = 10
	// MaxWait is SQS's longest long poll; Receive caps its wait there.
	MaxWait = 20 * time.Second
	// maxBatchBytes keeps a SendMessageBatch under the classic 256 KiB payload limit, which
	// local servers still enforce (AWS now allows 1 MiB).
	maxBatchBytes = 256 * 1024
	// defaultRegion signs requests to a local endpoint, which ignores the region.
	defaultRegion = "us-east-1"
)

// Client talks to one SQS endpoint. Errors name the endpoint, so a runbook's failure says
// whether it reached AWS or a local server.
type Client struct {
	api      *sqs.Client
	endpoint string // as given; "" for AWS's regional endpoint
}

// New returns a client for endpoint (e.g. the dev stack's http://127.0.0.1:9324) or, when
// endpoint is "", for AWS's regional endpoint with credentials from the AWS default chain.
// With an endpoint, static dummy credentials are used: local servers do not check them, and
// the caller's real AWS credentials are then never sent anywhere but AWS.
// New makes no request; the first call reveals an unreachable endpoint.
func New(ctx context.Context, endpoint, region string) (*Client, error) {
	endpoint = strings.TrimRight(strings.TrimSpace(endpoint), "/")
	if region == "" && endpoint != "" {
		region = defaultRegion
	}
	opts := []func(*awsconfig.LoadOptions) error{}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if endpoint != "" {
		if !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") {
			return nil, fmt.Errorf("sqs: endpoint %q: want an http:// or https:// URL", endpoint)
		}
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider("opsflow", "opsflow", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqs: load AWS config for endpoint %s: %w", describe(endpoint), err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("sqs: no region for endpoint %s (pass one or set AWS_REGION)", describe(endpoint))
	}
	api := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return &Client{api: api, endpoint: endpoint}, nil
}

func describe(endpoint string) string {
	if endpoint == "" {
		return "AWS (default endpoint)"
	}
	return endpoint
}

// errorf prefixes an error with the operation and the endpoint it was sent to.
func (c *Client) errorf(op string, err error) error {
	return fmt.Errorf("sqs %s at %s: %w", op, describe(c.endpoint), err)
}

// API exposes the underlying SDK client for the rare call this wrapper does not cover.
func (c *Client) API() *sqs.Client { return c.api }

// EnsureQueue returns the queue's URL, creating the queue when it does not exist, so a fresh
// dev stack needs no manual step and a rerun is harmless. An existing queue is only looked up
// (GetQueueUrl), which needs no create permission on AWS and never touches its attributes.
func (c *Client) EnsureQueue(ctx context.Context, name string) (url string, err error) {
	got, err := c.api.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err == nil {
		return aws.ToString(got.QueueUrl), nil
	}
	var missing *types.QueueDoesNotExist
	if !errors.As(err, &missing) {
		return "", c.errorf("get queue url "+name, err)
	}
	created, err := c.api.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return "", c.errorf("create queue "+name, err)
	}
	return aws.ToString(created.QueueUrl), nil
}

// SetVisibilityTimeout sets how long a received message stays hidden before SQS re-delivers
// it. A consumer must finish (and delete) within it; tests shorten it to watch re-delivery.
// SQS accepts whole seconds from 0 to 12 hours; d is rounded up to a second.
func (c *Client) SetVisibilityTimeout(ctx context.Context, queueURL string, d time.Duration) error {
	secs := int64(math.Ceil(d.Seconds()))
	if secs < 0 || secs > 12*3600 {
		return fmt.Errorf("sqs: visibility timeout %s out of range 0s..12h", d)
	}
	_, err := c.api.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		Attributes: map[string]string{
			string(types.QueueAttributeNameVisibilityTimeout): strconv.FormatInt(secs, 10),
		},
	})
	if err != nil {
		return c.errorf("set visibility timeout of "+queueURL, err)
	}
	return nil
}

// DeleteQueue removes the queue; for tests and teardown of queues opsflow itself created.
func (c *Client) DeleteQueue(ctx context.Context, queueURL string) error {
	if _, err := c.api.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(queueURL)}); err != nil {
		return c.errorf("delete queue "+queueURL, err)
	}
	return nil
}

// Send enqueues the bodies in order with SendMessageBatch, at most MaxBatch (and 256 KiB) per
// call, so seeding a queue with thousands of messages costs a few hundred requests. Failed
// entries are reported by their index in bodies; a failure stops before the next batch.
func (c *Client) Send(ctx context.Context, queueURL string, bodies ...string) error {
	for start := 0; start < len(bodies); {
		end, size := start, 0
		for end < len(bodies) && end-start < MaxBatch && (end == start || size+len(bodies[end]) <= maxBatchBytes) {
			size += len(bodies[end])
			end++
		}
		entries := make([]types.SendMessageBatchRequestEntry, 0, end-start)
		for i := start; i < end; i++ {
			entries = append(entries, types.SendMessageBatchRequestEntry{
				Id:          aws.String(strconv.Itoa(i)),
				MessageBody: aws.String(bodies[i]),
			})
		}
		out, err := c.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return c.errorf(fmt.Sprintf("send messages %d..%d to %s", start, end-1, queueURL), err)
		}
		if len(out.Failed) > 0 {
			parts := make([]string, 0, len(out.Failed))
			for _, f := range out.Failed {
				parts = append(parts, fmt.Sprintf("message %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
			}
			return c.errorf("send to "+queueURL, fmt.Errorf("%d of %d messages not sent: %s",
				len(out.Failed), len(entries), strings.Join(parts, "; ")))
		}
		start = end
	}
	return nil
}

// Message is one received message. ReceiptHandle (not ID) is what Delete needs; it changes on
// every delivery, so only the latest receive of a message can delete it.
type Message struct {
	ID            string
	Body          string
	ReceiptHandle string
	// SentAt is when SQS accepted the message (its SentTimestamp attribute, on the queue's own
	// clock, millisecond precision; it does not change on re-delivery), or zero if the server
	// did not say. A consumer uses it to tell messages of an earlier run from its own.
	SentAt time.Time
}

// Receive long-polls for up to maxMessages (1..MaxBatch) messages, waiting up to wait (capped at
// MaxWait, rounded up to a second) when the queue is empty, so an idle consumer costs few
// requests. It returns early with what is available, possibly nothing. Cancelling ctx ends the
// poll at once with ctx's error (errors.Is(err, context.Canceled) holds). The messages stay in
// the queue, hidden for the visibility timeout, until Delete. Each message carries its SentAt.
func (c *Client) Receive(ctx context.Context, queueURL string, maxMessages int, wait time.Duration) ([]Message, error) {
	if maxMessages < 1 || maxMessages > MaxBatch {
		return nil, fmt.Errorf("sqs: receive from %s: max %d out of range 1..%d", queueURL, maxMessages, MaxBatch)
	}
	wait = min(max(wait, 0), MaxWait)
	out, err := c.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(queueURL),
		MaxNumberOfMessages: int32(maxMessages),
		WaitTimeSeconds:     int32(math.Ceil(wait.Seconds())),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameSentTimestamp},
	})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, c.errorf("receive from "+queueURL, ctxErr)
		}
		return nil, c.errorf("receive from "+queueURL, err)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msgs = append(msgs, Message{
			ID:            aws.ToString(m.MessageId),
			Body:          aws.ToString(m.Body),
			ReceiptHandle: aws.ToString(m.ReceiptHandle),
			SentAt:        sentAt(m.Attributes),
		})
	}
	return msgs, nil
}

// sentAt decodes the SentTimestamp attribute (epoch milliseconds); zero when absent or garbled.
func sentAt(attrs map[string]string) time.Time {
	ms, err := strconv.ParseInt(attrs[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// DeleteFailure is one message SQS refused to delete.
type DeleteFailure struct {
	ID      string // the Message.ID
	Code    string // SQS error code, e.g. ReceiptHandleIsInvalid
	Message string
}

// DeleteError lists the messages that were not deleted (they will be re-delivered after their
// visibility timeout), so a runbook can report or retry exactly those.
type DeleteError struct {
	Endpoint string
	QueueURL string
	Failed   []DeleteFailure
}

func (e *DeleteError) Error() string {
	parts := make([]string, 0, len(e.Failed))
	for _, f := range e.Failed {
		parts = append(parts, fmt.Sprintf("%s (%s: %s)", f.ID, f.Code, f.Message))
	}
	return fmt.Sprintf("sqs delete from %s at %s: %d messages not deleted: %s",
		e.QueueURL, describe(e.Endpoint), len(e.Failed), strings.Join(parts, "; "))
}

// Delete removes processed messages with DeleteMessageBatch, MaxBatch per call. Call it only
// after the messages were processed: that is what keeps a message safe across crashes. All
// batches are attempted; messages SQS refuses are returned as a *DeleteError naming their IDs.
// A request that fails as a whole returns at once, naming the IDs it carried.
func (c *Client) Delete(ctx context.Context, queueURL string, msgs []Message) error {
	derr := &DeleteError{Endpoint: c.endpoint, QueueURL: queueURL}
	for start := 0; start < len(msgs); start += MaxBatch {
		chunk := msgs[start:min(start+MaxBatch, len(msgs))]
		// Entry ids are positions: message IDs may repeat (a message received twice) and SQS
		// refuses duplicate entry ids in one batch.
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = types.DeleteMessageBatchRequestEntry{
				Id:            aws.String(strconv.Itoa(i)),
				ReceiptHandle: aws.String(m.ReceiptHandle),
			}
		}
		out, err := c.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			ids := make([]string, len(chunk))
			for i, m := range chunk {
				ids[i] = m.ID
			}
			return c.errorf(fmt.Sprintf("delete messages %s from %s", strings.Join(ids, ", "), queueURL), err)
		}
		for _, f := range out.Failed {
			id := aws.ToString(f.Id)
			if i, err := strconv.Atoi(id); err == nil && i >= 0 && i < len(chunk) {
				id = chunk[i].ID
			}
			derr.Failed = append(derr.Failed, DeleteFailure{ID: id, Code: aws.ToString(f.Code), Message: aws.ToString(f.Message)})
		}
	}
	if len(derr.Failed) > 0 {
		return derr
	}
	return nil
}

// ApproximateCount returns the queue's visible and in-flight (received, not yet deleted)
// message counts: enough for progress reports and for checking that a sync drained its queue
// (visible+inFlight == 0). SQS only approximates them (they lag by up to a minute on AWS;
// the dev stack's ElasticMQ answers exact counts).
func (c *Client) ApproximateCount(ctx context.Context, queueURL string) (visible, inFlight int, err error) {
	out, err := c.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, 0, c.errorf("get message counts of "+queueURL, err)
	}
	visible, err = attrInt(out.Attributes, types.QueueAttributeNameApproximateNumberOfMessages)
	if err != nil {
		return 0, 0, c.errorf("get message counts of "+queueURL, err)
	}
	inFlight, err = attrInt(out.Attributes, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)
	if err != nil {
		return 0, 0, c.errorf("get message counts of "+queueURL, err)
	}
	return visible, inFlight, nil
}

func attrInt(attrs map[string]string, name types.QueueAttributeName) (int, error) {
	s, ok := attrs[string(name)]
	if !ok {
		return 0, fmt.Errorf("attribute %s missing in the answer", name)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("attribute %s = %q: %w", name, s, err)
	}
	return n, nil
}

// Purge deletes every message in the queue, for resetting a test or dev queue. On AWS it returns
// before the messages are gone: the purge takes up to 60 s, may also delete messages sent during
// that time, and another purge of the queue meanwhile is refused (PurgeQueueInProgress); the dev
// stack's ElasticMQ empties the queue before it answers. To empty a queue at once, and keep what
// is sent right after, Receive and Delete instead.
func (c *Client) Purge(ctx context.Context, queueURL string) error {
	if _, err := c.api.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(queueURL)}); err != nil {
		return c.errorf("purge "+queueURL, err)
	}
	return nil
}
