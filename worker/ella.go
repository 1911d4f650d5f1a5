package main

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"text/template"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/supervisor"
	"github.com/opsflow/opsflow/workflows"
)

// registerElla wires ELLA's procedures: the central worker runs the workflows (EllaDeploy,
// EllaHealth, EllaFailover), and a process on an ELLA host (--ella-dir) adds a worker on that
// host's queue (--ella-task-queue) with every ELLA activity, since ella-cli, the symlink, the
// database dump and supervisord are only reachable there. A failover host runs the same with
// its own queue; a process may be only an ELLA host (--central=false --sites=none).
func registerElla(h *host) error {
	if h.central != nil {
		h.central.RegisterWorkflow(workflows.EllaDeploy)
		h.central.RegisterWorkflow(workflows.EllaHealth)
		h.central.RegisterWorkflow(workflows.EllaFailover)
	}
	cfg := h.cfg.Ella
	if cfg.Dir == "" {
		return nil
	}
	acts, err := newEllaActivities(cfg)
	if err != nil {
		return err
	}
	if h.central != nil && cfg.TaskQueue == h.cfg.Temporal.TaskQueue {
		// One worker per queue and process: the central one takes the activities too.
		h.central.RegisterActivity(acts)
	} else {
		h.queue(cfg.TaskQueue).RegisterActivity(acts)
	}
	slog.Info("ELLA host registered", "dir", cfg.Dir, "taskQueue", cfg.TaskQueue, "pageURL", cfg.PageURL,
		"database", fmt.Sprintf("%s@%s:%d/%s", cfg.DB.User, cfg.DB.Host, cfg.DB.Port, cfg.DB.Database),
		"supervisor", acts.Supervisor.Endpoint(), "ellaCli", cfg.CLI, "configDir", cfg.ConfigDir, "allowedConfigs", cfg.AllowedConfigs)
	return nil
}

// newEllaActivities builds the ELLA host's activities from its (validated) configuration:
// the production directory must exist, and every e-mail template must render.
func newEllaActivities(cfg config.Ella) (*activities.EllaActivities, error) {
	if fi, err := os.Stat(cfg.Dir); err != nil {
		return nil, fmt.Errorf("ELLA host: ella-dir: %w (OPSFLOW_ELLA_DIR)", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("ELLA host: ella-dir %s is not a directory (OPSFLOW_ELLA_DIR)", cfg.Dir)
	}
	cli, err := ella.NewCLI(cfg.CLI)
	if err != nil {
		return nil, fmt.Errorf("ELLA host: %w (OPSFLOW_ELLA_CLI)", err)
	}
	sup, err := supervisor.New(cfg.SupervisorURL, cfg.SupervisorUser, cfg.SupervisorPassword, 0)
	if err != nil {
		return nil, fmt.Errorf("ELLA host: %w (OPSFLOW_ELLA_SUPERVISOR_URL)", err)
	}
	templates, err := ellaMailTemplates(cfg.MailTemplates)
	if err != nil {
		return nil, fmt.Errorf("ELLA host: %w", err)
	}
	return &activities.EllaActivities{
		Dir:            cfg.Dir,
		CLI:            cli,
		CLIEnv:         []string{"DB_URL=" + cfg.DBURL},
		ConfigDir:      cfg.ConfigDir,
		AllowedConfigs: cfg.AllowedConfigs,
		PG: activities.EllaPG{Host: cfg.DB.Host, Port: cfg.DB.Port, User: cfg.DB.User, Password: cfg.DB.Password,
			Database: cfg.DB.Database},
		Supervisor:  sup,
		StableFor:   cfg.StableFor,
		PageURL:     cfg.PageURL,
		PageTimeout: cfg.PageTimeout,
		APIURL:      cfg.APIURL,
		AccessLog:   cfg.AccessLog,
		Mail:        activities.EllaMail{Addr: cfg.SMTPAddr, From: cfg.MailFrom, Templates: templates},
	}, nil
}

// ellaMailTemplates is activities.DefaultEllaMailTemplates with the file's templates in place
// of their namesakes. Each is rendered once with sample data here, so a misspelt field
// ({{.Versoin}}) stops the worker at start rather than an e-mail in the middle of a deploy.
func ellaMailTemplates(overrides map[string]config.EllaMailTemplate) (map[string]activities.EllaMailTemplate, error) {
	defaults := map[string]config.EllaMailTemplate{}
	for name, t := range activities.DefaultEllaMailTemplates() {
		defaults[name] = config.EllaMailTemplate(t)
	}
	merged, err := config.MergeEllaMailTemplates(defaults, overrides)
	if err != nil {
		return nil, err
	}
	sample := activities.EllaMailInput{Template: "sample", To: []string{"user@example.org"}, Version: "v1.17.2",
		Window: "tirsdag 16-18", Deadline: "2026-12-03T16:00:00Z", Detail: "detail"}
	out := make(map[string]activities.EllaMailTemplate, len(merged))
	for _, name := range slices.Sorted(maps.Keys(merged)) {
		t := merged[name]
		for _, part := range [][2]string{{"subject", t.Subject}, {"body", t.Body}} {
			tpl, err := template.New(name + " " + part[0]).Option("missingkey=error").Parse(part[1])
			if err == nil {
				err = tpl.Execute(io.Discard, sample)
			}
			if err != nil {
				return nil, fmt.Errorf("ella-mail-templates: template %q %s: %w (OPSFLOW_ELLA_MAIL_TEMPLATES)", name, part[0], err)
			}
		}
		out[name] = activities.EllaMailTemplate(t)
	}
	return out, nil
}
