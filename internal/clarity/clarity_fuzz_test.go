package clarity_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/clarity"
	"github.com/opsflow/opsflow/internal/clarity/claritytest"
)

// hostGuard sends requests on only when they go to the LIMS's host, and remembers any that
// would have gone elsewhere (with the credentials).
type hostGuard struct {
	host    string
	strayed atomic.Pointer[string] // the first stray URL of the current input
}

func (g *hostGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "http" || r.URL.Host != g.host {
		u := r.URL.String()
		g.strayed.CompareAndSwap(nil, &u)
		return nil, errors.New("hostGuard: request to another host")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// FuzzClarityDocuments answers every GET of a real HTTP server with an arbitrary document
// (the recorded ones as seeds) and reads it as each resource, then follows the queue's next
// page and an arbitrary reference. A 2xx answer that is not the resource is a
// *MalformedError, never another error; a resource read has what every such document has
// (limsid and uri or name, the queue's entries' limsid and uri, sample references'
// limsid); and no request ever leaves the LIMS's host, whatever URI a document or a caller
// gives.
func FuzzClarityDocuments(f *testing.F) {
	docs, err := filepath.Glob(filepath.Join(claritytest.Testdata(f), "api", "v2", "*", "*.xml"))
	require.NoError(f, err)
	require.NotEmpty(f, docs)
	for i, p := range docs {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		ref := []string{"", "https://evil.example/api/v2/queues/1002?page=2", "//evil.example/x", "/api/v2/queues/1002?page=2",
			"http://127.0.0.1:1/x", "https://clarity.example.org/api/v2/artifacts/2-101"}[i%6]
		f.Add(b, ref)
	}
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if u, pw, ok := r.BasicAuth(); !ok || u != claritytest.User || pw != claritytest.Password {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		b, _ := body.Load().([]byte)
		_, _ = w.Write([]byte(strings.ReplaceAll(string(b), claritytest.RecordedHost, "http://"+r.Host)))
	}))
	f.Cleanup(srv.Close)
	guard := &hostGuard{host: strings.TrimPrefix(srv.URL, "http://")}
	c, err := clarity.New(srv.URL, claritytest.User, claritytest.Password, &http.Client{Transport: guard})
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, doc []byte, ref string) {
		body.Store(doc)
		guard.strayed.Store(nil)
		ctx := context.Background()
		malformedOr := func(what string, err error) bool {
			if err == nil {
				return true
			}
			var me *clarity.MalformedError
			require.True(t, errors.As(err, &me), "%s: a 2xx answer gave %T: %v", what, err, err)
			return false
		}
		if q, err := c.Queue(ctx, "1002", ""); malformedOr("queue", err) {
			for i, a := range q.Artifacts {
				require.True(t, a.LimsID != "" && a.URI != "", "queue entry %d", i)
			}
			if next := q.NextPage(); next != "" {
				_, _ = c.Queue(ctx, "1002", next)
			}
		}
		if a, err := c.Artifact(ctx, "2-101"); malformedOr("artifact", err) {
			require.True(t, a.LimsID != "" && a.URI != "", "artifact %+v", a)
			for i, s := range a.Samples {
				require.NotEmpty(t, s.LimsID, "sample reference %d", i)
			}
		}
		if s, err := c.Sample(ctx, "ACC1A1"); malformedOr("sample", err) {
			require.True(t, s.LimsID != "" && s.Name != "", "sample %+v", s)
		}
		if p, err := c.Project(ctx, "ACC1"); malformedOr("project", err) {
			require.True(t, p.LimsID != "" && p.Name != "", "project %+v", p)
		}
		_, _ = c.Queue(ctx, "1002", ref)
		_ = c.Unassign(ctx, ref, ref)
		_ = c.Unassign(ctx, srv.URL+"/api/v2/configuration/workflows/5/stages/12", ref)
		if stray := guard.strayed.Load(); stray != nil {
			require.Fail(t, "a request left the LIMS's host", fmt.Sprintf("%s (ref %q)", *stray, ref))
		}
	})
}
