//go:build unix

// Package docs holds the guides of MockOps (the *.md files of this
// directory) and the test that keeps them true: every command and every
// piece of Go in README.md and docs/*.md is run or compiled.
//
// # What the test does with each block
//
//   - ```go blocks that start with a package clause ("package main", after
//     any comments) are complete programs. Each is written to
//     <module>/_docsnippets/<n>/main.go, inside the module so that it
//     compiles against this checkout, checked with `go vet` (which
//     type-checks it as the compiler does) and removed. A directory
//     starting with "_" is left out of ./... patterns and of the layering
//     test, so a `go test ./...` running beside this test never sees a
//     half-written program (an example host imports every layer, which
//     under internal/ the layering test would reject).
//   - A program followed at once by a "```text output" block is also run
//     (`go run`), and what it prints on its standard output must be that
//     block, byte for byte.
//   - Every other ```go block is a fragment: the absence of a package
//     clause is its mark. Its non-blank lines must appear, in order (other
//     lines may come between) and with runs of spaces and tabs collapsed,
//     in one .go file of the module, so a
//     fragment is always a quotation of code that compiles (an exported
//     signature, a Config field, a test helper), never free-hand Go.
//   - ```yaml blocks whose first line names a schema the repository ships
//     are whole definitions: validated against the schema and parsed (see
//     yaml_test.go). Other YAML blocks are excerpts.
//   - ```sh blocks: every line (a trailing " # comment" removed) must be a
//     command the test knows; anything else fails, so the guides put other
//     text in ```text, ```yaml or ```sql blocks.
//   - `go run`, `go vet` and `go test <pkg>` lines are run from the
//     module root as written; `go build` lines too, with `-o` pointed at a
//     temporary directory so that no binary lands in the checkout.
//     `go test ./...` is not run: it is the suite this test belongs to.
//   - `go run ./examples/quickstart` without -demo serves until Ctrl-C. The
//     test builds and starts it as go run does, adding -addr (a free loopback port, since
//     8080 may be taken) and -data (a temporary directory), waits until it
//     answers, runs every `curl` line of the docs against it in document
//     order (with http://127.0.0.1:8080 replaced by its address), then
//     interrupts it (SIGINT, as Ctrl-C does) and requires a clean exit.
//     A curl line fails when its answer is 404, any 4xx on an /api/v2
//     route (a client error there means the docs are wrong), or a 5xx
//     that a chaos fault did not produce (X-Mockops-Served-By: chaos).
//   - `go get github.com/mockops/mockops@...` is what a host types in its
//     own module. This checkout is not published on the module proxy, so
//     the test makes a fresh module in a temporary directory, points the
//     requirement at this checkout with a replace directive, and builds
//     there the README's first complete program, as a host would.
package docs_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// block is one fenced code block of a Markdown file.
type block struct {
	file string // relative to the module root
	line int    // of the opening fence
	lang string // the info string's first word
	// output is set on a ```text output block: what the program block
	// before it prints on its standard output.
	output bool
	body   string
	// want is, on a program block, the output block that follows it.
	want *block
}

func (b block) pos() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// fence matches an opening or closing fence at the start of a line.
var fence = regexp.MustCompile("^```\\s*([A-Za-z0-9_+-]*)\\s*(\\S*)")

// parseBlocks returns the fenced blocks of a Markdown file. An unclosed
// block is an error, since the rest of the file would silently be code.
func parseBlocks(file string, src []byte) ([]block, error) {
	var out []block
	var cur *block
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := fence.FindStringSubmatch(line)
		switch {
		case cur == nil && m != nil:
			cur = &block{file: file, line: n, lang: m[1], output: m[1] == "text" && m[2] == "output"}
			body.Reset()
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.body = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("%s: block not closed", cur.pos())
	}
	return out, nil
}

func TestParseBlocks(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []block
		err  bool
	}{
		{"none", "text\n", nil, false},
		{"one", "a\n```sh\ngo vet .\n```\n", []block{{file: "f.md", line: 2, lang: "sh", body: "go vet .\n"}}, false},
		{"two kinds", "```go\npackage main\n```\n```yaml\nx: 1\n```\n", []block{
			{file: "f.md", line: 1, lang: "go", body: "package main\n"},
			{file: "f.md", line: 4, lang: "yaml", body: "x: 1\n"},
		}, false},
		{"unclosed", "```sh\ngo vet .\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBlocks("f.md", []byte(tt.src))
			if (err != nil) != tt.err {
				t.Fatalf("parseBlocks(%q) error = %v; want error %v", tt.src, err, tt.err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("parseBlocks(%q) = %v; want %v", tt.src, got, tt.want)
			}
		})
	}
}

// isProgram reports whether a Go block is a complete file: its first line
// that is neither blank nor a comment is a package clause.
func isProgram(src string) bool {
	for line := range strings.SplitSeq(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		return strings.HasPrefix(line, "package ")
	}
	return false
}

// commandLines returns the commands of a sh block, comments removed.
func commandLines(body string) []string {
	var out []string
	for line := range strings.SplitSeq(body, "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// words splits a command line as a POSIX shell would for the simple
// quoting the docs use: single and double quotes, no expansions.
func words(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '$' || r == '`' || r == '|' || r == '>' || r == '<' || r == ';' || r == '&':
			return nil, fmt.Errorf("shell syntax %q is not supported in docs commands", r)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed quote")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

func TestWords(t *testing.T) {
	tests := []struct {
		line string
		want []string
		err  bool
	}{
		{"go vet ./pipeline/", []string{"go", "vet", "./pipeline/"}, false},
		{`curl -d '{"a": 1}' http://x/`, []string{"curl", "-d", `{"a": 1}`, "http://x/"}, false},
		{`curl -H "X-A: b"`, []string{"curl", "-H", "X-A: b"}, false},
		{"echo $HOME", nil, true},
		{"go test | tee x", nil, true},
		{"curl 'x", nil, true},
	}
	for _, tt := range tests {
		got, err := words(tt.line)
		if (err != nil) != tt.err {
			t.Errorf("words(%q) error = %v; want error %v", tt.line, err, tt.err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("words(%q) = %q; want %q", tt.line, got, tt.want)
		}
	}
}

// curlCall is a curl line read into an HTTP request.
type curlCall struct {
	method, url, body string
	header            http.Header
}

// parseCurl reads the curl options the docs use: -X, -H, -d/--data
// (which makes the default method POST) and the output-only -i, -s, -sS,
// -f and --fail.
func parseCurl(args []string) (curlCall, error) {
	c := curlCall{header: http.Header{}}
	for i := 1; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch a {
		case "-i", "-s", "-sS", "-S", "-f", "--fail", "-v":
		case "-X", "--request":
			c.method, err = next()
		case "-H", "--header":
			var h string
			if h, err = next(); err == nil {
				k, v, ok := strings.Cut(h, ":")
				if !ok {
					return c, fmt.Errorf("header %q has no colon", h)
				}
				c.header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		case "-d", "--data", "--data-binary":
			c.body, err = next()
		default:
			if strings.HasPrefix(a, "-") || c.url != "" {
				return c, fmt.Errorf("curl argument %q is not one the docs test understands", a)
			}
			c.url = a
		}
		if err != nil {
			return c, err
		}
	}
	if c.url == "" {
		return c, fmt.Errorf("curl without a URL")
	}
	if c.method == "" {
		c.method = "GET"
		if c.body != "" {
			c.method = "POST"
		}
	}
	return c, nil
}

func TestParseCurl(t *testing.T) {
	tests := []struct {
		line, method, url, body string
		err                     bool
	}{
		{"curl -i http://h/a", "GET", "http://h/a", "", false},
		{"curl -X POST http://h/a", "POST", "http://h/a", "", false},
		{`curl -d '{"x":1}' http://h/a`, "POST", "http://h/a", `{"x":1}`, false},
		{"curl -X PUT -H 'Content-Type: application/json' -d {} http://h/a", "PUT", "http://h/a", "{}", false},
		{"curl --compressed http://h/a", "", "", "", true},
		{"curl -i", "", "", "", true},
	}
	for _, tt := range tests {
		w, err := words(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseCurl(w)
		if (err != nil) != tt.err {
			t.Errorf("parseCurl(%q) error = %v; want error %v", tt.line, err, tt.err)
			continue
		}
		if !tt.err && (got.method != tt.method || got.url != tt.url || got.body != tt.body) {
			t.Errorf("parseCurl(%q) = %s %s %q; want %s %s %q", tt.line, got.method, got.url, got.body, tt.method, tt.url, tt.body)
		}
	}
}

// docURL is the address the docs write for the quickstart.
const docURL = "http://127.0.0.1:8080"

// collected is every block of the docs, by kind.
type collected struct {
	programs  []block
	fragments []block
	commands  []command
}

type command struct {
	b    block
	line string
	args []string
}

// allBlocks returns every block of README.md and docs/*.md.
func allBlocks(t *testing.T, root string) []block {
	t.Helper()
	files := []string{"README.md"}
	guides, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range guides {
		rel, _ := filepath.Rel(root, g)
		files = append(files, rel)
	}
	if len(guides) < 4 {
		t.Errorf("docs/ has %d guides; want at least pipelines, federation, coverage and operations", len(guides))
	}
	var all []block
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := parseBlocks(f, src)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, blocks...)
	}
	return all
}

func collect(t *testing.T, root string) collected {
	t.Helper()
	var c collected
	blocks := allBlocks(t, root)
	for i, b := range blocks {
		switch b.lang {
		case "go":
			if !isProgram(b.body) {
				c.fragments = append(c.fragments, b)
				continue
			}
			if i+1 < len(blocks) && blocks[i+1].output && blocks[i+1].file == b.file {
				b.want = &blocks[i+1]
			}
			c.programs = append(c.programs, b)
		case "sh", "bash", "shell", "console":
			for _, line := range commandLines(b.body) {
				args, err := words(line)
				if err != nil {
					t.Errorf("%s: %q: %v", b.pos(), line, err)
					continue
				}
				c.commands = append(c.commands, command{b, line, args})
			}
		}
	}
	return c
}

// moduleRoot is the directory of go.mod: the parent of docs/.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

func goCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	return cmd
}

// TestDocs runs and compiles what README.md and docs/*.md show (see the
// package comment for the rules).
func TestDocs(t *testing.T) {
	root := moduleRoot(t)
	c := collect(t, root)
	if len(c.programs) == 0 || len(c.commands) == 0 {
		t.Fatalf("found %d Go programs and %d commands in the docs; the README alone has both", len(c.programs), len(c.commands))
	}
	t.Run("programs", func(t *testing.T) { checkPrograms(t, root, c.programs) })
	t.Run("fragments", func(t *testing.T) { checkFragments(t, root, c.fragments) })
	t.Run("commands", func(t *testing.T) { checkCommands(t, root, c) })
}

func checkPrograms(t *testing.T, root string, programs []block) {
	for i, b := range programs {
		t.Run(b.pos(), func(t *testing.T) {
			dir := filepath.Join(root, "_docsnippets", strconv.Itoa(i))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				os.RemoveAll(dir)
				os.Remove(filepath.Dir(dir)) // once empty: the last program's cleanup removes it
			})
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(b.body), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			pkg := "./_docsnippets/" + filepath.Base(dir)
			if out, err := goCmd(ctx, root, "vet", pkg).CombinedOutput(); err != nil {
				t.Fatalf("%s: go vet of the program: %v\n%s", b.pos(), err, out)
			}
			if b.want == nil {
				return
			}
			var stdout, stderr bytes.Buffer
			run := goCmd(ctx, root, "run", pkg)
			run.Stdout, run.Stderr = &stdout, &stderr
			if err := run.Run(); err != nil {
				t.Fatalf("%s: go run of the program: %v\n%s", b.pos(), err, stderr.Bytes())
			}
			if got := stdout.String(); got != b.want.body {
				t.Errorf("%s: the program prints\n%s\nbut %s shows\n%s", b.pos(), got, b.want.pos(), b.want.body)
			}
		})
	}
}

// goSources reads every .go file of the module, trimmed line by line.
func goSources(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var lines []string
		for l := range strings.SplitSeq(string(src), "\n") {
			lines = append(lines, normalize(l))
		}
		out[p] = lines
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// normalize makes a line comparable whatever gofmt's alignment: spaces
// and tabs collapsed, the ends trimmed. Aligned blocks (const groups,
// struct fields) realign when a longer name joins them.
func normalize(l string) string { return strings.Join(strings.Fields(l), " ") }

// inOrder reports whether want's lines occur in lines in order (not
// necessarily adjacent, so a fragment may leave out a function's body).
func inOrder(lines, want []string) bool {
	i := 0
	for _, l := range lines {
		if i < len(want) && l == want[i] {
			i++
		}
	}
	return i == len(want)
}

func checkFragments(t *testing.T, root string, fragments []block) {
	sources := goSources(t, root)
	for _, b := range fragments {
		var want []string
		for l := range strings.SplitSeq(b.body, "\n") {
			if l = normalize(l); l != "" && l != "..." && l != "// ..." {
				want = append(want, l)
			}
		}
		found := false
		for _, lines := range sources {
			if inOrder(lines, want) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: Go fragment not found, line by line in order, in any .go file of the module:\n%s", b.pos(), b.body)
		}
	}
}

func TestInOrder(t *testing.T) {
	lines := []string{"func A() {", "x := 1", "}", "func B() {"}
	tests := []struct {
		want []string
		ok   bool
	}{
		{[]string{"func A() {", "}"}, true},
		{[]string{"func B() {"}, true},
		{[]string{"func B() {", "func A() {"}, false},
		{[]string{"func C() {"}, false},
	}
	for _, tt := range tests {
		if got := inOrder(lines, tt.want); got != tt.ok {
			t.Errorf("inOrder(%q) = %v; want %v", tt.want, got, tt.ok)
		}
	}
}

func checkCommands(t *testing.T, root string, c collected) {
	var curls []command
	var server *command
	for _, cmd := range c.commands {
		args := cmd.args
		switch {
		case args[0] == "curl":
			curls = append(curls, cmd)
		case len(args) >= 3 && args[0] == "go" && args[1] == "test" && args[len(args)-1] == "./..." && !strings.HasPrefix(args[2], "-run"):
			// The suite itself: this test is part of it.
		case len(args) == 3 && args[0] == "go" && args[1] == "run" && args[2] == "./examples/quickstart":
			if server == nil {
				server = &cmd
			}
		case len(args) >= 3 && args[0] == "go" && args[1] == "get" && strings.HasPrefix(args[2], "github.com/mockops/mockops"):
			t.Run(cmd.b.pos()+" "+cmd.line, func(t *testing.T) { checkGoGet(t, root, c.programs) })
		case len(args) >= 2 && args[0] == "go" && (args[1] == "run" || args[1] == "vet" || args[1] == "test" || args[1] == "build"):
			t.Run(cmd.b.pos()+" "+cmd.line, func(t *testing.T) { runGo(t, root, cmd) })
		default:
			t.Errorf("%s: %q is not a command the docs test runs (go run/vet/test/build, go get of this module, curl); put it in a text block", cmd.b.pos(), cmd.line)
		}
	}
	if len(curls) == 0 {
		return
	}
	if server == nil {
		t.Errorf("the docs show curl lines but no `go run ./examples/quickstart` to serve them")
		return
	}
	t.Run(server.b.pos()+" "+server.line, func(t *testing.T) { runServerAndCurls(t, root, curls) })
}

func runGo(t *testing.T, root string, cmd command) {
	args := cmd.args[1:]
	if args[0] == "build" {
		args = append([]string{"build", "-o", t.TempDir() + "/"}, args[1:]...)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	c := goCmd(ctx, root, args...)
	c.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Errorf("%s: %s: %v\n%s", cmd.b.pos(), cmd.line, err, out)
	}
}

// checkGoGet builds the README's first program in a module of its own that
// requires this one, as a host following the README would.
func checkGoGet(t *testing.T, root string, programs []block) {
	var prog *block
	for i := range programs {
		if programs[i].file == "README.md" {
			prog = &programs[i]
			break
		}
	}
	if prog == nil {
		t.Fatal("README.md shows `go get` but no program to build with it")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	steps := [][]string{
		{"mod", "init", "example.com/host"},
		{"mod", "edit", "-replace", "github.com/mockops/mockops=" + root},
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(prog.body), 0o644); err != nil {
		t.Fatal(err)
	}
	steps = append(steps, []string{"mod", "tidy"}, []string{"build", "-o", filepath.Join(dir, "host"), "."})
	for _, s := range steps {
		c := goCmd(ctx, dir, s...)
		// The host's module is new: its go.sum is written from the module
		// cache this checkout already filled.
		c.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: go %s in a host module: %v\n%s", prog.pos(), strings.Join(s, " "), err, out)
		}
	}
}

// freeAddr returns a loopback address no one listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func runServerAndCurls(t *testing.T, root string, curls []command) {
	addr := freeAddr(t)
	base := "http://" + addr
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	// What go run does, in two steps: build the package, then run the
	// program. The exit status checked after SIGINT is then the program's
	// own, not go run's (which exits 1 once it has seen an interrupt).
	bin := filepath.Join(t.TempDir(), "quickstart")
	if out, err := goCmd(ctx, root, "build", "-o", bin, "./examples/quickstart").CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/quickstart: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "-addr", addr, "-data", t.TempDir())
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that SIGINT reaches it and anything it
	// started, as Ctrl-C in a terminal does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() error {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case err := <-exited:
			return err
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			return fmt.Errorf("did not stop within 30s of SIGINT")
		}
	}

	if err := waitServing(ctx, base, exited); err != nil {
		_ = stop()
		t.Fatalf("quickstart did not come up: %v\n%s", err, out.String())
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, c := range curls {
		checkCurl(t, client, base, c)
	}
	if err := stop(); err != nil {
		t.Errorf("quickstart after SIGINT: %v\n%s", err, out.String())
	}
}

// waitServing polls until the platform answers: readiness, not a timing
// assumption (the first go run compiles the program).
func waitServing(ctx context.Context, base string, exited <-chan error) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(base + "/api/v2/pipelines")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited early: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func checkCurl(t *testing.T, client *http.Client, base string, c command) {
	call, err := parseCurl(c.args)
	if err != nil {
		t.Errorf("%s: %q: %v", c.b.pos(), c.line, err)
		return
	}
	if !strings.HasPrefix(call.url, docURL+"/") {
		t.Errorf("%s: %q: curl lines address the quickstart at %s", c.b.pos(), c.line, docURL)
		return
	}
	path := strings.TrimPrefix(call.url, docURL)
	req, err := http.NewRequestWithContext(t.Context(), call.method, base+path, strings.NewReader(call.body))
	if err != nil {
		t.Errorf("%s: %q: %v", c.b.pos(), c.line, err)
		return
	}
	req.Header = call.header
	if call.body != "" && req.Header.Get("Content-Type") == "" {
		// What curl -d sends.
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s: %q: %v", c.b.pos(), c.line, err)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	api := strings.HasPrefix(path, "/api/v2/")
	// A chaos fault's own answer (a scenario's abort) is what the line
	// shows; a 5xx from the router, a mock or an upstream is a failure.
	chaos := resp.Header.Get("X-Mockops-Served-By") == "chaos"
	if resp.StatusCode == http.StatusNotFound || (resp.StatusCode >= 500 && !chaos) || (api && resp.StatusCode >= 400) {
		t.Errorf("%s: %q answered %s:\n%s", c.b.pos(), c.line, resp.Status, body)
	}
}
