package activities

import (
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Tap is an HTTP client for the real S3 server that records every GET of one object (its
// Range header and the body bytes read) and can slow, hold or cut the first GET's body: how
// a slow or stalled multi-GB transfer looks to the activity, without a fake server.
type s3Tap struct {
	inner s3.HTTPClient
	key   string

	mu   sync.Mutex
	gets []*tapGet

	// perMiB slows every body of the object: a pause after each MiB read.
	perMiB time.Duration
	// holdAt > 0: the first GET's body stops at that many bytes until release is closed;
	// held is closed when it stopped there.
	holdAt        int64
	held, release chan struct{}
	// listAs renames keys in the server's listings (real key -> key listed).
	listAs map[string]string
}

type tapGet struct {
	rng  string
	read int64
}

func newTap(t *testing.T, a *ImportActivities, key string) (*ImportActivities, *s3Tap) {
	t.Helper()
	opts := a.S3.Options()
	tp := &s3Tap{inner: opts.HTTPClient, key: key, held: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(func() { tp.unhold() })
	b := *a
	b.S3 = s3.New(opts, func(o *s3.Options) { o.HTTPClient = tp })
	return &b, tp
}

func (tp *s3Tap) unhold() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	select {
	case <-tp.release:
	default:
		close(tp.release)
	}
}

// Do passes the request to the real client and wraps the object's body.
func (tp *s3Tap) Do(r *http.Request) (*http.Response, error) {
	resp, err := tp.inner.Do(r)
	if err == nil && r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2" && len(tp.listAs) > 0 {
		return tp.relist(resp)
	}
	if err != nil || r.Method != http.MethodGet || tp.key == "" || !strings.HasSuffix(r.URL.Path, "/"+tp.key) {
		return resp, err
	}
	tp.mu.Lock()
	g := &tapGet{rng: r.Header.Get("Range")}
	tp.gets = append(tp.gets, g)
	first := len(tp.gets) == 1
	tp.mu.Unlock()
	resp.Body = &tapBody{ReadCloser: resp.Body, tp: tp, get: g, hold: first && tp.holdAt > 0}
	return resp, nil
}

// Gets returns a copy of the GETs of the object so far.
func (tp *s3Tap) Gets() []tapGet {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	out := make([]tapGet, len(tp.gets))
	for i, g := range tp.gets {
		out[i] = *g
	}
	return out
}

type tapBody struct {
	io.ReadCloser
	tp   *s3Tap
	get  *tapGet
	hold bool
	mib  int64
}

func (b *tapBody) Read(p []byte) (int, error) {
	tp := b.tp
	tp.mu.Lock()
	read := b.get.read
	tp.mu.Unlock()
	if b.hold && read >= tp.holdAt {
		b.hold = false
		close(tp.held)
		<-tp.release
	}
	if b.hold && int64(len(p)) > tp.holdAt-read {
		p = p[:tp.holdAt-read]
	}
	n, err := b.ReadCloser.Read(p)
	tp.mu.Lock()
	b.get.read += int64(n)
	read = b.get.read
	tp.mu.Unlock()
	if tp.perMiB > 0 && read>>20 > b.mib {
		b.mib = read >> 20
		time.Sleep(tp.perMiB)
	}
	return n, err
}

// relist rewrites a listing's keys by listAs.
func (tp *s3Tap) relist(resp *http.Response) (*http.Response, error) {
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	text := string(data)
	for from, to := range tp.listAs {
		var esc strings.Builder
		_ = xml.EscapeText(&esc, []byte(to))
		text = strings.ReplaceAll(text, "<Key>"+from+"</Key>", "<Key>"+esc.String()+"</Key>")
	}
	resp.Body = io.NopCloser(strings.NewReader(text))
	resp.ContentLength = int64(len(text))
	resp.Header.Set("Content-Length", strconv.Itoa(len(text)))
	return resp, nil
}
