package ellastub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// Modes of the stand-in's supervisord programs: nginx serves the web page, the others only
// run (as api, polling and analysis-watcher do behind it).
var Modes = []string{"nginx", "api", "polling", "analysis-watcher"}

// Serve runs one program until ctx ends. api, like ELLA's entrypoint, refuses to start on a
// database ($DB_URL) that is not at the image's head. nginx answers GET / with the version.
func Serve(ctx context.Context, mode, imagePath, listen string) error {
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
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>ELLA</title><p>ELLA %s</p>\n", img.Version)
	})}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
