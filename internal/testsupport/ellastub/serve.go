package ellastub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Modes of the stand-in's supervisord programs: nginx serves the web page, the others only
// run (as api, polling and analysis-watcher do behind it).
var Modes = []string{"nginx", "api", "polling", "analysis-watcher"}

// FailPath is where the stand-in's nginx answers 502 Bad Gateway, as ELLA's nginx does when
// its api upstream fails: requests to it make a 5xx burst in the access log.
const FailPath = "/api/v1/fail/"

// Serve runs one program until ctx ends. api, like ELLA's entrypoint, refuses to start on a
// database ($DB_URL) that is not at the image's head. nginx answers GET / with the version,
// FailPath with 502, and appends each request to accessLog (nginx's combined format; "": none).
func Serve(ctx context.Context, mode, imagePath, listen, accessLog string) error {
	img, err := ReadImage(imagePath)
	if err != nil {
		return err
	}
	if mode == "api" {
		c := cli{ctx: ctx, img: img, db: os.Getenv("DB_URL")}
		if c.db == "" {
			return errors.New("DB_URL is not set")
		}
		rev, err := c.dbRevision()
		if err != nil {
			return err
		}
		if rev != img.Head {
			return fmt.Errorf("database is at %q, not at ELLA %s's head %q: not starting", rev, img.Version, img.Head)
		}
	}
	if mode != "nginx" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	var logMu sync.Mutex
	logRequest := func(r *http.Request, status int) {
		if accessLog == "" {
			return
		}
		logMu.Lock()
		defer logMu.Unlock()
		f, err := os.OpenFile(accessLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return
		}
		defer f.Close()
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(f, "%s - - [%s] \"%s %s %s\" %d 0 \"-\" %q\n", host, time.Now().Format("02/Jan/2006:15:04:05 -0700"),
			r.Method, r.URL.RequestURI(), r.Proto, status, r.UserAgent())
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, FailPath) {
			logRequest(r, http.StatusBadGateway)
			http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
			return
		}
		logRequest(r, http.StatusOK)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>ELLA</title><p>ELLA %s</p>\n", img.Version)
	})}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
