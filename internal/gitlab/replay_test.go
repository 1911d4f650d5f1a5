package gitlab

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// reply is one recorded response: a fixture from testdata/gitlab or literal bytes.
type reply struct {
	status  int
	fixture string
	body    []byte
	header  http.Header
}

func ok(fixture string) reply                { return reply{status: http.StatusOK, fixture: fixture} }
func fail(status int, fixture string) reply  { return reply{status: status, fixture: fixture} }
func raw(body []byte) reply                  { return reply{status: http.StatusOK, body: body} }
func (r reply) with(key, value string) reply { r.header = http.Header{key: {value}}; return r }

// request is what the replay server saw.
type request struct {
	Method, EscapedPath, Query, Token string
}

// replay serves recorded responses keyed by "METHOD escaped-path[?sorted-query]". A key
// with several replies serves them in order and then repeats the last, which is how a
// polled job moves from running to success. Unknown requests fail the test.
type replay struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	routes   map[string][]reply
	served   map[string]int
	requests []request
}

func newReplay(t *testing.T) *replay {
	rp := &replay{t: t, routes: map[string][]reply{}, served: map[string]int{}}
	rp.srv = httptest.NewServer(http.HandlerFunc(rp.serve))
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *replay) on(method, pathAndQuery string, replies ...reply) {
	rp.routes[method+" "+pathAndQuery] = replies
}

func (rp *replay) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.EscapedPath()
	if q := r.URL.Query().Encode(); q != "" {
		key += "?" + q
	}
	rp.mu.Lock()
	rp.requests = append(rp.requests, request{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("PRIVATE-TOKEN")})
	replies, found := rp.routes[key]
	n := rp.served[key]
	rp.served[key]++
	rp.mu.Unlock()
	if !found {
		rp.t.Errorf("replay: unexpected request %s", key)
		http.Error(w, `{"message":"no recorded response"}`, http.StatusNotImplemented)
		return
	}
	rep := replies[min(n, len(replies)-1)]
	body := rep.body
	if rep.fixture != "" {
		var err error
		if body, err = os.ReadFile(filepath.Join("testdata", "gitlab", rep.fixture)); err != nil {
			rp.t.Errorf("replay: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
	}
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(body)
}

// seen returns the requests received so far.
func (rp *replay) seen() []request {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]request(nil), rp.requests...)
}

// count returns how many requests used method on escapedPath.
func (rp *replay) count(method, escapedPath string) int {
	n := 0
	for _, r := range rp.seen() {
		if r.Method == method && r.EscapedPath == escapedPath {
			n++
		}
	}
	return n
}
