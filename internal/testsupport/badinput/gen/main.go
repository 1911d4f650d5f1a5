// Command gen (re)writes the bad-input corpus testdata/bad and its README.md index from the
// table in internal/testsupport/badinput, deterministically:
//
//	go run ./internal/testsupport/badinput/gen [-out testdata/bad]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/opsflow/opsflow/internal/testsupport/badinput"
)

func main() {
	out := flag.String("out", badinput.Dir(), "directory of the corpus")
	flag.Parse()
	if err := badinput.Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "badinput gen:", err)
		os.Exit(1)
	}
	fmt.Printf("badinput gen: %d cases written to %s\n", len(badinput.Cases()), *out)
}
