package activities

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/fsync"
	"github.com/opsflow/opsflow/internal/supervisor"
)

// EllaBroadcast hides the broadcasts in Deactivate and shows Message (`ella-cli broadcast
// new`, one argument), refusing a message ella.CheckBroadcast refuses (ErrEllaBroadcastRefused).
// An active broadcast with the same message is reused, so a retry shows it once.
func (a *EllaActivities) EllaBroadcast(ctx context.Context, in EllaBroadcastInput) (EllaBroadcastResult, error) {
	cli, err := a.cli(a.linkPath())
	if err != nil {
		return EllaBroadcastResult{}, err
	}
	var argv []string
	if in.Message != "" {
		if argv, err = cli.BroadcastNew(in.Message); err != nil {
			return EllaBroadcastResult{}, permanent(ErrEllaBroadcastRefused, err, "%v", err)
		}
	}
	for _, id := range in.Deactivate {
		if _, err := a.command(ctx, cli.BroadcastDeactivate(id)); err != nil {
			return EllaBroadcastResult{}, err
		}
	}
	if argv == nil {
		return EllaBroadcastResult{}, nil
	}
	list, err := a.command(ctx, cli.BroadcastList())
	if err != nil {
		return EllaBroadcastResult{}, err
	}
	if id, ok := activeBroadcast(list, in.Message); ok {
		return EllaBroadcastResult{ID: id}, nil
	}
	out, err := a.command(ctx, argv)
	if err != nil {
		return EllaBroadcastResult{}, err
	}
	m := broadcastAddedRE.FindStringSubmatch(out)
	if m == nil {
		return EllaBroadcastResult{}, permanent(ErrEllaCommandFailed, nil, "ella-cli broadcast new: no \"Message with id N added\" in its output: %s", out)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return EllaBroadcastResult{ID: id}, nil
}

var broadcastAddedRE = regexp.MustCompile(`Message with id (\d+) added`)

// activeBroadcast finds msg among the active rows of `ella-cli broadcast list`
// (" id | date | active | message |", the message padded to 80 characters).
func activeBroadcast(list, msg string) (int64, bool) {
	for _, line := range strings.Split(list, "\n") {
		f := strings.SplitN(strings.TrimSpace(line), " | ", 4)
		if len(f) != 4 || strings.TrimSpace(f[2]) != "true" {
			continue
		}
		id, err := strconv.ParseInt(strings.TrimSpace(f[0]), 10, 64)
		if err != nil {
			continue
		}
		if strings.TrimRight(strings.TrimSuffix(f[3], "|"), " ") == strings.TrimRight(msg, " ") {
			return id, true
		}
	}
	return 0, false
}

// command runs ella-cli; a non-zero exit is ErrEllaCommandFailed with its output.
func (a *EllaActivities) command(ctx context.Context, argv []string) (string, error) {
	out, code, err := a.run(ctx, argv)
	if err != nil {
		return out, err
	}
	if code != 0 {
		return out, permanent(ErrEllaCommandFailed, nil, "ella-cli %s exited %d: %s", strings.Join(argv[len(a.CLI.Prefix):], " "), code, out)
	}
	return out, nil
}

// StopElla stops ELLA's supervisord programs and waits until each is stopped.
func (a *EllaActivities) StopElla(ctx context.Context, in EllaProgramsInput) (EllaProgramsResult, error) {
	states := map[string]string{}
	for _, name := range in.Programs {
		heartbeatEvery(ctx, "stopping "+name)()
		if err := a.Supervisor.Stop(ctx, name); err != nil {
			return EllaProgramsResult{}, a.programError(name, "stop", err)
		}
		info, err := a.Supervisor.ProcessInfo(ctx, name)
		if err != nil {
			return EllaProgramsResult{}, a.programError(name, "stop", err)
		}
		states[name] = info.StateName
	}
	return EllaProgramsResult{States: states}, nil
}

// StartElla starts ELLA's programs and checks each stays RUNNING and the web page answers
// (ErrEllaNotRunning).
func (a *EllaActivities) StartElla(ctx context.Context, in EllaProgramsInput) (EllaProgramsResult, error) {
	stable := a.StableFor
	if stable <= 0 {
		stable = DefaultEllaStableFor
	}
	states := map[string]string{}
	for _, name := range in.Programs {
		heartbeatEvery(ctx, "starting "+name)()
		if err := a.Supervisor.Start(ctx, name); err != nil {
			return EllaProgramsResult{}, a.programError(name, "start", err)
		}
	}
	for _, name := range in.Programs {
		heartbeatEvery(ctx, "watching "+name)()
		if err := a.Supervisor.WaitRunningFor(ctx, name, stable); err != nil {
			if ctx.Err() != nil {
				return EllaProgramsResult{}, err
			}
			return EllaProgramsResult{}, permanent(ErrEllaNotRunning, err, "ELLA's %s did not stay RUNNING: %v", name, err)
		}
		states[name] = "RUNNING"
	}
	if err := a.waitPage(ctx); err != nil {
		return EllaProgramsResult{States: states}, err
	}
	return EllaProgramsResult{States: states}, nil
}

// waitPage polls PageURL until it answers 2xx, for PageTimeout.
func (a *EllaActivities) waitPage(ctx context.Context) error {
	timeout := a.PageTimeout
	if timeout <= 0 {
		timeout = DefaultEllaPageTimeout
	}
	stop := heartbeatEvery(ctx, "waiting for ELLA's page")
	defer stop()
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 10 * time.Second}
	last := "no answer yet"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.PageURL, nil)
		if err != nil {
			return permanent(ErrInvalidInput, err, "ELLA page URL %q: %v", a.PageURL, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return permanent(ErrEllaNotRunning, nil, "ELLA's page %s did not answer 2xx within %s: %s", a.PageURL, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (a *EllaActivities) programError(name, action string, err error) error {
	switch {
	case supervisor.IsBadName(err):
		return permanent(ErrUnknownService, err, "supervisord does not know ELLA's program %q: %v", name, err)
	case supervisor.IsSpawnFailure(err):
		return permanent(ErrEllaNotRunning, err, "%s of ELLA's %s failed: %v", action, name, err)
	}
	return fmt.Errorf("%s ELLA's %s: %w", action, name, err)
}

// SwitchEllaImage points ella-prod/ella.sif at the target atomically (ErrEllaSymlinkMoved
// when it points at neither the expected nor the target image): a new symlink is made beside
// it and renamed over it, so ELLA never sees no link. Pointing at the target is success.
func (a *EllaActivities) SwitchEllaImage(ctx context.Context, in EllaSwitchInput) (EllaSwitchResult, error) {
	link := a.linkPath()
	cur, err := os.Readlink(link)
	if err != nil {
		return EllaSwitchResult{}, permanent(ErrEllaSymlinkMoved, err, "%s is not a symlink: %v", ella.ProductionLink, err)
	}
	if cur == in.Target {
		return EllaSwitchResult{Target: cur}, nil
	}
	if cur != in.Expected {
		return EllaSwitchResult{}, permanent(ErrEllaSymlinkMoved, nil, "%s points at %s, neither the expected %s nor the target %s",
			ella.ProductionLink, cur, in.Expected, in.Target)
	}
	resolved := in.Target
	if !filepath.IsAbs(resolved) {
		resolved = filepath.Join(filepath.Dir(link), resolved)
	}
	if fi, err := os.Stat(resolved); err != nil || !fi.Mode().IsRegular() {
		return EllaSwitchResult{}, permanent(ErrEllaImageMissing, err, "%s cannot point at %s: no image there", ella.ProductionLink, in.Target)
	}
	tmp := filepath.Join(filepath.Dir(link), "."+filepath.Base(link)+".new")
	_ = os.Remove(tmp)
	if err := os.Symlink(in.Target, tmp); err != nil {
		return EllaSwitchResult{}, err
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return EllaSwitchResult{}, err
	}
	if err := fsync.Dir(filepath.Dir(link)); err != nil {
		return EllaSwitchResult{}, err
	}
	return EllaSwitchResult{Target: in.Target}, nil
}

// MigrateEllaDatabase runs `ella-cli database upgrade head` then `database compare`, which
// must pass (ErrEllaCommandFailed).
func (a *EllaActivities) MigrateEllaDatabase(ctx context.Context, in EllaMigrateInput) (EllaCommandResult, error) {
	cli, err := a.cli(a.linkPath())
	if err != nil {
		return EllaCommandResult{}, err
	}
	out, err := a.command(ctx, cli.DatabaseUpgradeHead())
	if err != nil {
		return EllaCommandResult{}, err
	}
	cmp, err := a.command(ctx, cli.DatabaseCompare())
	if err != nil {
		return EllaCommandResult{}, err
	}
	return EllaCommandResult{Output: strings.TrimSpace(out + "\n" + cmp)}, nil
}

// ApplyEllaConfig loads one config file with ella-cli (users add_groups, filterconfigs update)
// once it is allowed and present (ErrEllaConfigRefused).
func (a *EllaActivities) ApplyEllaConfig(ctx context.Context, in EllaConfigInput) (EllaCommandResult, error) {
	path, err := a.configPath(in.File)
	if err != nil {
		return EllaCommandResult{}, err
	}
	cli, err := a.cli(a.linkPath())
	if err != nil {
		return EllaCommandResult{}, err
	}
	argv, err := cli.Config(in.File.Kind, path)
	if err != nil {
		return EllaCommandResult{}, permanent(ErrEllaConfigRefused, err, "%v", err)
	}
	out, err := a.command(ctx, argv)
	return EllaCommandResult{Output: out}, err
}
