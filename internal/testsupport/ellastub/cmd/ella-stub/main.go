// Command ella-stub is the ELLA stand-in (package ellastub) as a program:
//
//	ella-stub cli --image PATH ARGS...          ella-cli ARGS run from the image at PATH ($DB_URL)
//	ella-stub serve --mode MODE --image PATH [--listen ADDR] [--access-log FILE]   a supervisord program
//	ella-stub host --dir DIR --db-url URL --listen ADDR --supervisor-port N   (re)create the demo host
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ella-stub cli|serve|host ...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	image := fs.String("image", "", "the image (a stand-in .sif) to run from")
	mode := fs.String("mode", "nginx", "serve: the program (nginx, api, polling, analysis-watcher)")
	listen := fs.String("listen", "127.0.0.1:0", "serve --mode nginx, host: the web page's address")
	accessLog := fs.String("access-log", "", "serve --mode nginx: append requests to this access log")
	dir := fs.String("dir", "", "host: the production directory to (re)create")
	dbURL := fs.String("db-url", "", "host: ELLA's database, reset to v1's schema")
	supPort := fs.Int("supervisor-port", 9011, "host: the port of the host's supervisord")
	supPassword := fs.String("supervisor-password", "ella-demo", "host: the password of the host's supervisord (user ella)")
	_ = fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "cli":
		os.Exit(ellastub.RunCLI(ctx, *image, fs.Args(), os.Stdout, os.Stderr))
	case "serve":
		if err := ellastub.Serve(ctx, *mode, *image, *listen, *accessLog); err != nil {
			fmt.Fprintln(os.Stderr, "ella-stub serve:", err)
			os.Exit(1)
		}
	case "host":
		if err := demoHost(ctx, *dir, *dbURL, *listen, *supPort, *supPassword); err != nil {
			fmt.Fprintln(os.Stderr, "ella-stub host:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "ella-stub: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}
