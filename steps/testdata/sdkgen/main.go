// Command sdkgen is a tiny SDK generator for the regenerate_sdk tests. The
// test builds it with `go build` and runs it as a real process.
//
//	sdkgen gen SPEC OUT    writes OUT/client.txt (from SPEC), OUT/models/types.txt, OUT/env.txt
//	sdkgen fail            prints 6000 bytes and exits 3
//	sdkgen hang PIDFILE    starts a child that sleeps, writes its pid to PIDFILE, then hangs
//	sdkgen sleep           sleeps for an hour
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	switch os.Args[1] {
	case "gen":
		spec, err := os.ReadFile(os.Args[2])
		check(err)
		out := os.Args[3]
		check(os.MkdirAll(filepath.Join(out, "models"), 0o755))
		check(os.WriteFile(filepath.Join(out, "client.txt"), append([]byte("client for "), spec...), 0o644))
		check(os.WriteFile(filepath.Join(out, "models", "types.txt"), []byte("types"), 0o644))
		env := os.Environ()
		slices.Sort(env)
		check(os.WriteFile(filepath.Join(out, "env.txt"), []byte(strings.Join(env, "\n")), 0o644))
		fmt.Println("generated 3 files")
		fmt.Fprintln(os.Stderr, "warning: nothing")
	case "fail":
		fmt.Print(strings.Repeat("x", 6000))
		fmt.Fprintln(os.Stderr, "\nerror: boom")
		os.Exit(3)
	case "hang":
		child := exec.Command(os.Args[0], "sleep")
		child.Stdout = os.Stdout
		check(child.Start())
		check(os.WriteFile(os.Args[2], []byte(strconv.Itoa(child.Process.Pid)), 0o644))
		fmt.Println("hanging")
		time.Sleep(time.Hour)
	case "sleep":
		time.Sleep(time.Hour)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
