package supervisordtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// config renders supervisord.conf for an instance listening on port with its state,
// logs and child logs under dir.
func config(dir string, port int, user, password string, programs []Program) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\nchildlogdir=%s\n\n",
		literal(dir), literal(dir), literal(dir))
	fmt.Fprintf(&b, "[inet_http_server]\nport=127.0.0.1:%d\nusername=%s\npassword=%s\n\n", port, user, password)
	b.WriteString("[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n")
	for _, p := range programs {
		if err := p.validate(); err != nil {
			return "", err
		}
		// No retries and no autorestart: a test sees each failure exactly as it happened.
		// Stopping the whole group reaps what a shell-script service forked.
		fmt.Fprintf(&b, "[program:%s]\ncommand=%s\nautostart=%t\nautorestart=false\nstartsecs=%d\nstartretries=0\n"+
			"stopwaitsecs=5\nstopasgroup=true\nkillasgroup=true\n", p.Name, literal(p.Command), p.AutoStart, p.StartSecs)
		fmt.Fprintf(&b, "stdout_logfile=%s/%s.out.log\nstderr_logfile=%s/%s.err.log\n", literal(dir), p.Name, literal(dir), p.Name)
		if p.Directory != "" {
			fmt.Fprintf(&b, "directory=%s\n", literal(p.Directory))
		}
		if len(p.Environment) > 0 {
			var env []string
			for _, k := range slices.Sorted(maps.Keys(p.Environment)) {
				env = append(env, k+"="+quote(p.Environment[k]))
			}
			fmt.Fprintf(&b, "environment=%s\n", strings.Join(env, ","))
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

func (p Program) validate() error {
	if p.Name == "" || strings.ContainsAny(p.Name, " \t\r\n:[]") {
		return fmt.Errorf("program name %q: must be non-empty, without spaces, ':' or brackets", p.Name)
	}
	if p.Command == "" {
		return fmt.Errorf("program %s: empty command", p.Name)
	}
	fields := []string{p.Command, p.Directory}
	for k, v := range p.Environment {
		fields = append(fields, k, v)
	}
	for _, f := range fields {
		if strings.ContainsAny(f, "\r\n") {
			return fmt.Errorf("program %s: %q contains a newline, which supervisord.conf cannot hold", p.Name, f)
		}
	}
	for k, v := range p.Environment {
		if strings.Contains(v, `"`) && strings.Contains(v, "'") || strings.Trim(v, `"'`) != v {
			return fmt.Errorf("program %s: environment %s=%q: supervisord cannot hold both quote kinds, or a quote at either end", p.Name, k, v)
		}
	}
	return nil
}

// literal escapes '%', which supervisord would otherwise expand as %(name)s.
func literal(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// quote makes an environment value one token of supervisord's non-POSIX shlex, which
// has no escapes: the value is wrapped in the quote kind it does not contain.
func quote(v string) string {
	q := `"`
	if strings.Contains(v, q) {
		q = "'"
	}
	return q + literal(v) + q
}

// Render is supervisord.conf for a supervisord outside a test (the demo's stand-in ELLA host):
// listening on 127.0.0.1:port with user and password, its state and logs under dir.
func Render(dir string, port int, user, password string, programs []Program) (string, error) {
	return config(dir, port, user, password, programs)
}
