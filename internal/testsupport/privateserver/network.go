package privateserver

import (
	"net/url"
	"os"
	"strings"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"github.com/opsflow/opsflow/internal/testsupport/faults"
)

// Link is the network between a worker and a server through a faults.Proxy (the stack's
// toxiproxy), with the faults the fault matrix needs beside faults.Proxy's own: latency,
// bandwidth both ways, connections reset by the peer, and the link down. Each fault has a
// fixed name, so adding it again replaces it and Clear removes it.
type Link struct {
	t     testing.TB
	proxy *toxiproxy.Proxy
}

// Names of the Link's faults (toxiproxy toxics).
const (
	FaultLatency   = "fm-latency"
	FaultUpload    = "fm-bandwidth-up"
	FaultDownload  = "fm-bandwidth-down"
	FaultReset     = "fm-reset-peer"
	FaultHalfReset = "fm-reset-peer-down"
)

// LinkOf finds p's proxy on the stack's toxiproxy (by its listen address).
func LinkOf(t testing.TB, p *faults.Proxy) *Link {
	t.Helper()
	api := os.Getenv("OPSFLOW_TOXIPROXY_URL")
	if api == "" {
		t.Fatal(`OPSFLOW_TOXIPROXY_URL is not set: scripts/stack up && eval "$(scripts/stack env)"`)
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	all, err := toxiproxy.NewClient(api).Proxies()
	if err != nil {
		t.Fatalf("toxiproxy at %s: %v", api, err)
	}
	for _, px := range all {
		if px.Listen == u.Host {
			return &Link{t: t, proxy: px}
		}
	}
	t.Fatalf("toxiproxy at %s has no proxy listening on %s", api, u.Host)
	return nil
}

func (l *Link) add(name, kind, stream string, attrs toxiproxy.Attributes) {
	l.t.Helper()
	_ = l.proxy.RemoveToxic(name) // replaced when present
	if _, err := l.proxy.AddToxic(name, kind, stream, 1, attrs); err != nil {
		l.t.Fatalf("toxiproxy %s: add %s (%s): %v", l.proxy.Name, name, kind, err)
	}
}

// Latency delays every answer of the server by ms ± jitter milliseconds.
func (l *Link) Latency(ms, jitter int) {
	l.add(FaultLatency, "latency", "downstream", toxiproxy.Attributes{"latency": ms, "jitter": jitter})
}

// Bandwidth limits what the client sends (up) and what the server answers (down) to these
// KB/s; 0 leaves a direction unlimited.
func (l *Link) Bandwidth(upKBps, downKBps int) {
	if upKBps > 0 {
		l.add(FaultUpload, "bandwidth", "upstream", toxiproxy.Attributes{"rate": upKBps})
	}
	if downKBps > 0 {
		l.add(FaultDownload, "bandwidth", "downstream", toxiproxy.Attributes{"rate": downKBps})
	}
}

// Reset makes every connection, open or new, end with a TCP reset as soon as data flows
// either way (a peer that resets: a crashed load balancer, a firewall dropping state).
func (l *Link) Reset() {
	l.add(FaultReset, "reset_peer", "upstream", toxiproxy.Attributes{"timeout": 0})
	l.add(FaultHalfReset, "reset_peer", "downstream", toxiproxy.Attributes{"timeout": 0})
}

// Clear removes the named faults (none named: every fault of the Link, faults.Proxy's too).
func (l *Link) Clear(names ...string) {
	l.t.Helper()
	if len(names) == 0 {
		toxics, err := l.proxy.Toxics()
		if err != nil {
			l.t.Fatalf("toxiproxy %s: %v", l.proxy.Name, err)
		}
		for _, tx := range toxics {
			names = append(names, tx.Name)
		}
	}
	for _, n := range names {
		if n == FaultReset {
			names = append(names, FaultHalfReset)
		}
	}
	for _, n := range names {
		if err := l.proxy.RemoveToxic(n); err != nil && !isNotFound(err) {
			l.t.Fatalf("toxiproxy %s: remove %s: %v", l.proxy.Name, n, err)
		}
	}
}

// Down refuses every connection (the proxy stops listening and closes what is open), like a
// host unreachable; Up opens it again.
func (l *Link) Down() {
	l.t.Helper()
	if err := l.proxy.Disable(); err != nil {
		l.t.Fatalf("toxiproxy %s: disable: %v", l.proxy.Name, err)
	}
}

// Up undoes Down.
func (l *Link) Up() {
	l.t.Helper()
	if err := l.proxy.Enable(); err != nil {
		l.t.Fatalf("toxiproxy %s: enable: %v", l.proxy.Name, err)
	}
}

// isNotFound: the client wraps toxiproxy's ApiError in text only.
func isNotFound(err error) bool { return strings.Contains(err.Error(), "HTTP 404") }
