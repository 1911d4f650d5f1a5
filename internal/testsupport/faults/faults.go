// Package faults puts the stack's toxiproxy between a test and a real server, so a test can
// break the connection to OpenSearch, S3 or SQS the way a network or a node does (reset,
// cut mid-response, latency) without imitating the server itself.
package faults

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/require"
)

// Proxy is one toxiproxy proxy in front of an upstream server, deleted when the test ends.
type Proxy struct {
	t     testing.TB
	proxy *toxiproxy.Proxy
	// URL is the upstream's URL with the proxy's address in place of the server's.
	URL string
}

// In front of upstreamURL (http://host:port...), a new proxy on a free 127.0.0.1 port. The test
// fails (never skips) when the stack's toxiproxy is not there.
func In(t testing.TB, upstreamURL string) *Proxy {
	t.Helper()
	api := os.Getenv("OPSFLOW_TOXIPROXY_URL")
	if api == "" {
		t.Fatal(`OPSFLOW_TOXIPROXY_URL is not set: scripts/stack up && eval "$(scripts/stack env)"`)
	}
	up, err := url.Parse(upstreamURL)
	require.NoError(t, err)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "opsflow-test-" + hex.EncodeToString(b)
	p, err := toxiproxy.NewClient(api).CreateProxy(name, "127.0.0.1:0", up.Host)
	require.NoError(t, err, "toxiproxy at %s", api)
	t.Cleanup(func() { _ = p.Delete() })
	via := *up
	via.Host = p.Listen
	return &Proxy{t: t, proxy: p, URL: via.String()}
}

// CutResponsesAfter closes each connection once the server has sent it n bytes: a request
// the server carried out whose answer the client never fully reads, like a node that died
// mid-response.
func (p *Proxy) CutResponsesAfter(n int) {
	p.t.Helper()
	_, err := p.proxy.AddToxic("cut", "limit_data", "downstream", 1, toxiproxy.Attributes{"bytes": n})
	require.NoError(p.t, err)
}

// Heal removes every toxic: the connection works again.
func (p *Proxy) Heal() {
	p.t.Helper()
	toxics, err := p.proxy.Toxics()
	require.NoError(p.t, err)
	for _, tx := range toxics {
		require.NoError(p.t, p.proxy.RemoveToxic(tx.Name))
	}
}

// LimitUpload slows what clients send through the proxy to kbPerSec KB/s, like a thin uplink:
// a long upload that a test can interrupt halfway.
func (p *Proxy) LimitUpload(kbPerSec int) {
	p.t.Helper()
	_, err := p.proxy.AddToxic("thin-uplink", "bandwidth", "upstream", 1, toxiproxy.Attributes{"rate": kbPerSec})
	require.NoError(p.t, err)
}
