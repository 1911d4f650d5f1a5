package crashhook

import (
	"context"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"
)

// New is the worker interceptor that kills at cfg's point; one value serves every worker of
// the process (the activity counts are the process's).
func New(cfg *Config) interceptor.WorkerInterceptor {
	return &workerInterceptor{cfg: cfg, counts: map[string]int{}}
}

type workerInterceptor struct {
	interceptor.WorkerInterceptorBase
	cfg *Config

	mu sync.Mutex
	// counts: heartbeats (mid:) or completed executions (after:) of the point's activity type
	// in this process.
	counts map[string]int
}

// next counts one more occurrence of key and tells whether it is the point's.
func (w *workerInterceptor) next(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts[key]++
	return w.counts[key] == w.cfg.Point.N
}

func (w *workerInterceptor) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &workflowInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, cfg: w.cfg}
}

func (w *workerInterceptor) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &activityInbound{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, w: w}
}

// workflowInbound hands the workflow the outbound interceptor that watches its steps; one per
// workflow execution in the worker's cache (a replay after eviction gets a new one and counts
// again from the history's first step).
type workflowInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	cfg *Config
}

func (i *workflowInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&workflowOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound},
		cfg: i.cfg, scheduled: map[string]int{}})
}

type workflowOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	cfg *Config
	// scheduled counts the activities and children of each type this execution scheduled,
	// replayed ones included, so "#n" is the n-th of the run whichever worker scheduled the first.
	scheduled map[string]int
}

// before kills when typ's occurrence about to be scheduled is the Before point's and the
// workflow is not replaying (a replay passes the point the killed worker never got past).
func (o *workflowOutbound) before(ctx workflow.Context, typ string) {
	o.scheduled[typ]++
	p := o.cfg.Point
	if p.When != Before || p.Type != typ || o.scheduled[typ] != p.N || o.Next.IsReplaying(ctx) {
		return
	}
	info := o.Next.GetInfo(ctx)
	o.cfg.fire(Record{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID, Type: typ})
}

func (o *workflowOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	o.before(ctx, activityType)
	return o.Next.ExecuteActivity(o.shorten(ctx, activityType), activityType, args...)
}

func (o *workflowOutbound) ExecuteChildWorkflow(ctx workflow.Context, childWorkflowType string, args ...any) workflow.ChildWorkflowFuture {
	o.before(ctx, childWorkflowType)
	return o.Next.ExecuteChildWorkflow(ctx, childWorkflowType, args...)
}

// shorten applies Config.Timeout: every activity with a heartbeat timeout gets at most it
// (activities a kill interrupts besides the point's own are retried after seconds too), the
// Mid point's activity gets it as its heartbeat timeout, the After point's activity without
// a heartbeat timeout as its start-to-close timeout. The options are not part of what a
// replay compares, so a worker without the hook replays the run unchanged.
func (o *workflowOutbound) shorten(ctx workflow.Context, activityType string) workflow.Context {
	p, t := o.cfg.Point, o.cfg.Timeout
	if t == 0 {
		return ctx
	}
	opts := workflow.GetActivityOptions(ctx)
	point := p.Type == activityType
	switch {
	case opts.HeartbeatTimeout > 0 || (point && p.When == Mid):
		if opts.HeartbeatTimeout == 0 || opts.HeartbeatTimeout > t {
			opts.HeartbeatTimeout = t
		}
	case point && p.When == After:
		if opts.StartToCloseTimeout == 0 || opts.StartToCloseTimeout > t {
			opts.StartToCloseTimeout = t
		}
	}
	return workflow.WithActivityOptions(ctx, opts)
}

// activityInbound kills after the point's activity body returned (After) and gives the
// activity the outbound interceptor that counts its heartbeats (Mid).
type activityInbound struct {
	interceptor.ActivityInboundInterceptorBase
	w *workerInterceptor
}

func (i *activityInbound) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	return i.Next.Init(&activityOutbound{ActivityOutboundInterceptorBase: interceptor.ActivityOutboundInterceptorBase{Next: outbound}, w: i.w})
}

func (i *activityInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := i.Next.ExecuteActivity(ctx, in)
	p := i.w.cfg.Point
	if err != nil || p.When != After {
		return res, err
	}
	if info := activityInfo(ctx); info.ActivityType.Name == p.Type && i.w.next("after:"+p.Type) {
		i.w.cfg.fire(activityRecord(info))
	}
	return res, err
}

type activityOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
	w *workerInterceptor
}

func (o *activityOutbound) RecordHeartbeat(ctx context.Context, details ...any) {
	if p := o.w.cfg.Point; p.When == Mid {
		if info := o.Next.GetInfo(ctx); info.ActivityType.Name == p.Type && o.w.next("mid:"+p.Type) {
			o.w.cfg.fire(activityRecord(info))
		}
	}
	o.Next.RecordHeartbeat(ctx, details...)
}

func activityInfo(ctx context.Context) activity.Info { return activity.GetInfo(ctx) }

func activityRecord(info activity.Info) Record {
	return Record{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		Type: info.ActivityType.Name, ActivityID: info.ActivityID, Attempt: info.Attempt}
}
