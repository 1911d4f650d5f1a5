package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/opsflow/opsflow/internal/release"
)

// Site is one deployment target of the release, as the sites file describes it.
type Site = release.Site

// Service is one supervisord program of a site.
type Service = release.Service

var siteNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// DemoSites are the tsd-import sites of the seed procedure, laid out under stackDir.
func DemoSites(stackDir, supervisorURL, user, password string) map[string]Site {
	svc := func(name, host string) Service {
		return Service{Name: name, Host: host, SupervisorURL: supervisorURL, SupervisorUser: user, SupervisorPassword: password}
	}
	return map[string]Site{
		"nsc": {
			Name:       "nsc",
			Dir:        filepath.Join(stackDir, "sites", "nsc"),
			Components: []string{"lims-exporter/", "nsc-exporter/", "bin/lims-exporter-api", "bin/nsc-exporter"},
			Services:   []Service{svc("lims-exporter-api", "gdx-login"), svc("nsc-exporter", "sleipnir")},
		},
		"tsd": {
			Name:       "tsd",
			Dir:        filepath.Join(stackDir, "sites", "tsd"),
			Components: []string{"filelock-exporter/", "bin/filelock-exporter-api"},
			Services:   []Service{svc("filelock-exporter-api", "p22-hpc")},
		},
	}
}

func (c *Config) loadSites() error {
	stack := Env("OPSFLOW_STACK_DIR", ".stack")
	abs, err := filepath.Abs(stack)
	if err != nil {
		return fmt.Errorf("config: stack dir %q: %w", stack, err)
	}
	if c.Import.DurableDir == "" {
		c.Import.DurableDir = filepath.Join(abs, "durable")
	}
	if c.Movers.ExportDir == "" {
		c.Movers.ExportDir = filepath.Join(abs, "nsc-export")
	}
	if c.SitesFile == "" {
		c.Sites = DemoSites(abs,
			Env("OPSFLOW_SUPERVISOR_URL", "http://127.0.0.1:9001/RPC2"),
			Env("OPSFLOW_SUPERVISOR_USER", "opsflow"),
			Env("OPSFLOW_SUPERVISOR_PASSWORD", "opsflow"))
		return nil
	}
	sites, err := LoadSites(c.SitesFile)
	if err != nil {
		return err
	}
	c.Sites = sites
	return nil
}

// LoadSites reads a JSON array of sites, the way a deployment describes its hosts.
func LoadSites(path string) (map[string]Site, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: sites file: %w", err)
	}
	var list []Site
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("config: sites file %s: %w", path, err)
	}
	sites := make(map[string]Site, len(list))
	for _, s := range list {
		if _, dup := sites[s.Name]; dup {
			return nil, fmt.Errorf("config: sites file %s: site %q defined twice", path, s.Name)
		}
		sites[s.Name] = s
	}
	return sites, nil
}

func (c *Config) validateSites() []error {
	var errs []error
	for _, name := range c.SiteNames() {
		s := c.Sites[name]
		if !siteNameRE.MatchString(name) || s.Name != name {
			errs = append(errs, fmt.Errorf("site %q: name must be lowercase letters, digits and dashes", name))
		}
		if !filepath.IsAbs(s.Dir) {
			errs = append(errs, fmt.Errorf("site %q: dir %q must be an absolute path", name, s.Dir))
		}
		if len(s.Services) == 0 {
			errs = append(errs, fmt.Errorf("site %q: no services", name))
		}
		for _, svc := range s.Services {
			if svc.Name == "" || svc.SupervisorURL == "" {
				errs = append(errs, fmt.Errorf("site %q: service %q needs a name and a supervisorUrl", name, svc.Name))
			}
		}
	}
	return errs
}

// SiteNames returns the configured site names in a stable order.
func (c *Config) SiteNames() []string {
	names := make([]string, 0, len(c.Sites))
	for n := range c.Sites {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
