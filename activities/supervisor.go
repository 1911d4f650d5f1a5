package activities

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/release"
	"github.com/opsflow/opsflow/internal/supervisor"
)

// SupervisorActivities stop and start one site's services through the supervisord of the
// host that runs each (XML-RPC), the way an operator would with supervisorctl. One instance
// per site, registered on that site's own task queue beside its SiteFilesActivities.
type SupervisorActivities struct {
	Site release.Site
	// Package names the site's release layout: a run whose services started no longer rolls
	// back, so StartServices drops the run's rollback pin there.
	Package string
	// StableFor is how long a started service must stay RUNNING.
	StableFor time.Duration

	mu      sync.Mutex
	clients map[string]*supervisor.Client
}

// StopServices stops each service and waits until it is stopped; stopped ones stay stopped.
func (a *SupervisorActivities) StopServices(ctx context.Context, in ServicesInput) (ServicesResult, error) {
	return a.stop(ctx, in.Services)
}

// StartServices starts each service and checks it stays RUNNING for StableFor.
// A run whose services started no longer rolls back: its rollback pin goes.
func (a *SupervisorActivities) StartServices(ctx context.Context, in ServicesInput) (ServicesResult, error) {
	run, err := runToken(ctx, in.Run)
	if err != nil {
		return ServicesResult{}, err
	}
	res, err := a.start(ctx, in.Services)
	if err == nil {
		unpin(ctx, a.Site.Name, a.Site.Layout(a.Package), run)
	}
	return res, err
}

func (a *SupervisorActivities) stop(ctx context.Context, services []string) (ServicesResult, error) {
	states := map[string]string{}
	for _, name := range services {
		c, err := a.client(name)
		if err != nil {
			return ServicesResult{}, err
		}
		activity.RecordHeartbeat(ctx, "stopping "+name)
		if err := c.Stop(ctx, name); err != nil {
			return ServicesResult{}, a.serviceError(name, "stop", err)
		}
		info, err := c.ProcessInfo(ctx, name)
		if err != nil {
			return ServicesResult{}, a.serviceError(name, "stop", err)
		}
		states[name] = info.StateName
	}
	return ServicesResult{States: states}, nil
}

func (a *SupervisorActivities) start(ctx context.Context, services []string) (ServicesResult, error) {
	states := map[string]string{}
	for _, name := range services {
		c, err := a.client(name)
		if err != nil {
			return ServicesResult{}, err
		}
		activity.RecordHeartbeat(ctx, "starting "+name)
		if err := c.Start(ctx, name); err != nil {
			return ServicesResult{}, a.serviceError(name, "start", err)
		}
		activity.RecordHeartbeat(ctx, "watching "+name)
		if err := c.WaitRunningFor(ctx, name, a.StableFor); err != nil {
			if ctx.Err() != nil {
				return ServicesResult{}, err
			}
			return ServicesResult{}, permanent(ErrServiceStartFailed, err, "site %s: %s did not stay running: %v", a.Site.Name, name, err)
		}
		states[name] = "RUNNING"
	}
	return ServicesResult{States: states}, nil
}

// state is a service's supervisord state name (RUNNING, STOPPED, ...), for plans.
func (a *SupervisorActivities) state(ctx context.Context, name string) (string, error) {
	c, err := a.client(name)
	if err != nil {
		return "", err
	}
	info, err := c.ProcessInfo(ctx, name)
	if err != nil {
		return "", fmt.Errorf("service %s: %v", name, err)
	}
	return info.StateName, nil
}

// client returns the supervisord client of the host that runs service.
func (a *SupervisorActivities) client(service string) (*supervisor.Client, error) {
	svc, ok := a.Site.Service(service)
	if !ok {
		return nil, permanent(ErrUnknownService, nil, "site %s has no service %q", a.Site.Name, service)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[svc.SupervisorURL]; ok {
		return c, nil
	}
	c, err := supervisor.New(svc.SupervisorURL, svc.SupervisorUser, svc.SupervisorPassword, 30*time.Second)
	if err != nil {
		return nil, err
	}
	if a.clients == nil {
		a.clients = map[string]*supervisor.Client{}
	}
	a.clients[svc.SupervisorURL] = c
	return c, nil
}

func (a *SupervisorActivities) serviceError(name, action string, err error) error {
	switch {
	case supervisor.IsBadName(err):
		return permanent(ErrUnknownService, err, "site %s: supervisord does not know %q: %v", a.Site.Name, name, err)
	case supervisor.IsSpawnFailure(err):
		return permanent(ErrServiceStartFailed, err, "site %s: %s of %s failed: %v", a.Site.Name, action, name, err)
	}
	return fmt.Errorf("site %s: %s %s: %w", a.Site.Name, action, name, err)
}
