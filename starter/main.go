// Command starter (installed as `opsflow`) starts and follows opsflow runbooks, as an
// operator would from a terminal. Every run it starts can also be started with the plain
// Temporal CLI; README shows the equivalent `temporal workflow start` line.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: opsflow <command> [flags]

commands:
  release       start a tsd-import release & deploy (ReleaseDeploy)
  sync          run the revalidation sync of an environment, --abort it, or --rollback (RevalidationSync, RevalidationRollback)
  import        import a sample package from S3 into the durable area (PackageImport)
  schedules     apply, list or trigger the watchers' Temporal Schedules (tsd-import, Bridge)
  bridge        process one Bridge archive (--key s3://...) or convert one dataset to Parquet (--dataset)
  ella          deploy ELLA with an acceptance gate, decide the acceptance test, status, failover (EllaDeploy, EllaFailover)
  progress      print the progress query of a run
  find          list runs by procedure, version, sample, outcome, environment, age
  codec-server  serve /encode and /decode for the Web UI and the CLI
  codec-key     print a new payload encryption key line

Run "opsflow <command> -h" for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "release":
		err = runRelease(os.Args[2:])
	case "progress":
		err = runProgress(os.Args[2:])
	case "import":
		err = runImport(os.Args[2:])
	case "bridge":
		err = runBridge(os.Args[2:])
	case "schedules":
		err = runSchedules(os.Args[2:])
	case "sync":
		err = runSync(os.Args[2:])
	case "ella":
		err = runElla(os.Args[2:])
	case "find":
		err = runFind(os.Args[2:])
	case "codec-server":
		err = runCodecServer(os.Args[2:])
	case "codec-key":
		err = runCodecKey(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "opsflow: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "opsflow:", err)
		os.Exit(1)
	}
}
