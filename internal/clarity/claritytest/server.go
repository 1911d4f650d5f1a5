// Package claritytest serves recorded Clarity LIMS API v2 documents over HTTP (httptest), so
// the client and its callers are tested against real HTTP answers of the real document format.
package claritytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// RecordedHost is the server the documents under internal/clarity/testdata were recorded
// from; it is replaced by the test server's URL in every answer.
const RecordedHost = "https://clarity.example.org"

// User and Password are the credentials the server accepts.
const (
	User     = "apiuser"
	Password = "apipassword"
)

// Request is one request the server received.
type Request struct {
	Method string
	Path   string // path and, when there is one, "?query"
	Body   string
}

// Server answers GET {path} with the recorded document <dir>{path}[@query].xml (404 with a
// Clarity exception when there is none), POST /api/v2/route/artifacts by echoing the routing
// document, and 401 to wrong credentials. It records every request.
type Server struct {
	*httptest.Server
	dir string
	mu  sync.Mutex
	log []Request
}

// Testdata is the directory of the recorded documents, from a test in any package of the module.
func Testdata(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "internal", "clarity", "testdata")
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("claritytest: no go.mod above the test's directory")
		}
	}
}

// New starts a server of the documents under dir; it stops when the test ends.
func New(t testing.TB, dir string) *Server {
	s := &Server{dir: dir}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p := r.URL.Path
	if r.URL.RawQuery != "" {
		p += "?" + r.URL.RawQuery
	}
	s.mu.Lock()
	s.log = append(s.log, Request{Method: r.Method, Path: p, Body: string(body)})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/xml")
	if u, pw, ok := r.BasicAuth(); !ok || u != User || pw != Password {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, exception("Unauthorized: bad credentials"))
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v2/route/artifacts":
		w.Write(body)
	case r.Method == http.MethodGet:
		name := r.URL.Path
		if r.URL.RawQuery != "" {
			name += "@" + r.URL.RawQuery
		}
		doc, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(name)+".xml"))
		if err != nil || strings.Contains(name, "..") {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, exception("Resource not found: "+r.URL.Path))
			return
		}
		w.Write([]byte(strings.ReplaceAll(string(doc), RecordedHost, s.URL)))
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		io.WriteString(w, exception("method not allowed"))
	}
}

func exception(msg string) string {
	return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<exc:exception xmlns:exc="http://genologics.com/ri/exception"><message>` + msg + `</message></exc:exception>`
}
