// Command gen is the SDK generator of the end-to-end chain test
// (chain_test.go), which builds it with `go build` and runs it through
// steps.CommandGenerator as a real process:
//
//	gen LANGUAGE SPEC OUT    writes OUT/client.txt and OUT/models/types.txt
//
// The files' contents derive only from the language and the spec, so the
// test can compute their SHA-256.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: gen LANGUAGE SPEC OUT")
		os.Exit(2)
	}
	lang, spec, out := os.Args[1], os.Args[2], os.Args[3]
	src, err := os.ReadFile(spec)
	check(err)
	check(os.MkdirAll(filepath.Join(out, "models"), 0o755))
	check(os.WriteFile(filepath.Join(out, "client.txt"), []byte("// "+lang+" client\n"+string(src)), 0o644))
	check(os.WriteFile(filepath.Join(out, "models", "types.txt"), []byte("types for "+lang), 0o644))
	fmt.Printf("generated the %s client\n", lang)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
