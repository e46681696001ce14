package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// CommandConfig configures a CommandGenerator. Only Root and Commands must
// be set; every other zero value has a useful default.
type CommandConfig struct {
	// Root is the directory the generator works in: specs and output
	// directories are paths under it (a pipeline cannot name a file outside
	// it: absolute paths and ".." are refused). Required.
	Root string
	// Commands is the command to run per language.
	Commands map[string]Command
	// Timeout bounds one generation (default 10m). On expiry the whole
	// process group is killed, so a generator's own children die with it.
	Timeout time.Duration
	// Env names the host environment variables passed to the command
	// (default: PATH only). Nothing else of the host's environment, in
	// particular no secret, reaches the generator.
	Env []string
	// TailBytes bounds the output tail reported (default 4096).
	TailBytes int
	// MaxFiles bounds the files reported per language (default 1000).
	MaxFiles int
	// CleanOutput empties a language's output directory before its
	// generator runs, so files an earlier run produced and this one did
	// not are neither kept nor reported. Off by default: a host that points
	// output directories at a checkout with other files must not lose them.
	CleanOutput bool
	// LookupEnv replaces os.LookupEnv (tests).
	LookupEnv func(key string) (string, bool)
}

// Command is one generator invocation: an executable and its arguments,
// run directly (never through a shell). In Path, Args and Env values the
// placeholders {spec} (the absolute spec path), {output} (the absolute
// output directory, created before the run) and {language} are replaced;
// the replaced text is not scanned again, so event data cannot inject a
// placeholder or an argument.
type Command struct {
	Path    string
	Args    []string
	Env     map[string]string // fixed variables, on top of the allow-listed ones
	Timeout time.Duration     // overrides CommandConfig.Timeout when set
}

// OpenAPIGenerator is the preset for openapi-generator's CLI
// (openapi-generator-cli generate -i SPEC -g GENERATOR -o DIR), for a
// generator name such as "go", "typescript-fetch" or "python".
func OpenAPIGenerator(generator string) Command {
	return Command{
		Path: "openapi-generator-cli",
		Args: []string{"generate", "-i", "{spec}", "-g", generator, "-o", "{output}"},
	}
}

// OAPICodegen is the preset for oapi-codegen, generating types and a
// client in package pkg into {output}/client.gen.go.
func OAPICodegen(pkg string) Command {
	return Command{
		Path: "oapi-codegen",
		Args: []string{"-generate", "types,client", "-package", pkg, "-o", "{output}/client.gen.go", "{spec}"},
	}
}

// ErrSDKTimeout is returned (wrapped) when a generator ran past its
// timeout and its process group was killed.
var ErrSDKTimeout = errors.New("steps: sdk generator timed out")

// ErrUnknownLanguage is returned (wrapped, permanent) for a language with
// no configured command.
var ErrUnknownLanguage = errors.New("steps: no sdk generator command for the language")

// CommandGenerator is the default SDKGenerator: it runs the configured
// command of the language with the spec and an output directory under
// Root (ROOT/OUTPUT_DIR/LANGUAGE, created if missing, emptied first with
// CleanOutput), and reports every regular file in that directory
// afterwards (symbolic links are not followed), its exit status and the
// tail of its output. A non-zero exit fails permanently (the same spec
// would fail again); a timeout fails with ErrSDKTimeout and may be retried.
type CommandGenerator struct {
	cfg  CommandConfig
	root string
}

var _ SDKGenerator = (*CommandGenerator)(nil)

// NewCommandGenerator checks cfg and returns the generator.
func NewCommandGenerator(cfg CommandConfig) (*CommandGenerator, error) {
	if cfg.Root == "" {
		return nil, errors.New("steps: command generator: no Root directory")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("steps: command generator: root: %w", err)
	}
	for lang, c := range cfg.Commands {
		if c.Path == "" {
			return nil, fmt.Errorf("steps: command generator: language %q: no command path", lang)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.Env == nil {
		cfg.Env = []string{"PATH"}
	}
	if cfg.TailBytes <= 0 {
		cfg.TailBytes = 4096
	}
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = 1000
	}
	if cfg.LookupEnv == nil {
		cfg.LookupEnv = os.LookupEnv
	}
	return &CommandGenerator{cfg: cfg, root: root}, nil
}

// under resolves p, a pipeline-supplied path, under the root.
func (g *CommandGenerator) under(what, p string) (string, error) {
	if p == "" || !filepath.IsLocal(filepath.FromSlash(p)) {
		return "", Permanent(fmt.Errorf("%s %q is not a relative path inside the generator's root", what, p))
	}
	return filepath.Join(g.root, filepath.FromSlash(p)), nil
}

// Generate implements SDKGenerator.
func (g *CommandGenerator) Generate(ctx context.Context, req SDKRequest) (SDKResult, error) {
	c, ok := g.cfg.Commands[req.Language]
	if !ok {
		return SDKResult{}, Permanent(fmt.Errorf("%w: %q", ErrUnknownLanguage, req.Language))
	}
	spec, err := g.under("spec", req.Spec)
	if err != nil {
		return SDKResult{}, err
	}
	base := req.OutputDir
	if base == "" {
		base = "sdk"
	}
	outDir, err := g.under("output_dir", filepath.Join(filepath.FromSlash(base), req.Language))
	if err != nil {
		return SDKResult{}, err
	}
	if g.cfg.CleanOutput {
		if err := os.RemoveAll(outDir); err != nil {
			return SDKResult{}, fmt.Errorf("clean output directory: %w", err)
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return SDKResult{}, fmt.Errorf("output directory: %w", err)
	}
	expand := strings.NewReplacer("{spec}", spec, "{output}", outDir, "{language}", req.Language).Replace
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = expand(a)
	}
	timeout := g.cfg.Timeout
	if c.Timeout > 0 {
		timeout = c.Timeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, expand(c.Path), args...)
	cmd.Dir = g.root
	cmd.Env = g.env(c, expand)
	tail := &tailBuffer{max: g.cfg.TailBytes}
	cmd.Stdout, cmd.Stderr = tail, tail
	// A generator's children may hold the output pipe after the group was
	// killed (a child that escaped it): stop waiting for them then.
	cmd.WaitDelay = 2 * time.Second
	ownProcessGroup(cmd)

	runErr := cmd.Run()
	killProcessGroup(cmd) // children left behind by a generator that exited
	res := SDKResult{Language: req.Language, OutputDir: outDir, OutputTail: tail.String(), ExitCode: -1}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	switch {
	case runErr == nil:
	case errors.Is(runErr, exec.ErrWaitDelay) && res.ExitCode == 0:
		// The generator succeeded; a child it left behind held the output
		// open and has been killed with the group.
	case ctx.Err() != nil:
		return res, fmt.Errorf("generator: %w", ctx.Err())
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return res, fmt.Errorf("%w after %s (process group killed); output tail:\n%s", ErrSDKTimeout, timeout, lastLines(res.OutputTail))
	case cmd.ProcessState == nil:
		return res, Permanent(fmt.Errorf("start generator: %w", runErr))
	default:
		return res, Permanent(fmt.Errorf("generator failed (%v); output tail:\n%s", runErr, lastLines(res.OutputTail)))
	}
	res.Files, res.FilesTruncated, err = listFiles(outDir, g.cfg.MaxFiles)
	if err != nil {
		return res, fmt.Errorf("list generated files: %w", err)
	}
	return res, nil
}

// env builds the command's environment from the allow-list and the
// command's fixed variables.
func (g *CommandGenerator) env(c Command, expand func(string) string) []string {
	var env []string
	for _, name := range g.cfg.Env {
		if _, fixed := c.Env[name]; fixed {
			continue
		}
		if v, ok := g.cfg.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	for k, v := range c.Env {
		env = append(env, k+"="+expand(v))
	}
	return env
}

// listFiles hashes the regular files under dir, in lexical order.
func listFiles(dir string, maxFiles int) ([]GeneratedFile, bool, error) {
	var files []GeneratedFile
	truncated := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if len(files) == maxFiles {
			truncated = true
			return fs.SkipAll
		}
		f, err := hashFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		f.Path = filepath.ToSlash(rel)
		files = append(files, f)
		return nil
	})
	return files, truncated, err
}

func hashFile(p string) (GeneratedFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return GeneratedFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return GeneratedFile{}, err
	}
	return GeneratedFile{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = t.buf[:copy(t.buf, t.buf[over:])]
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String returns the tail as valid UTF-8, without a rune cut at its start.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
		b = b[1:]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// lastLines is the end of an output tail short enough for an error.
func lastLines(s string) string {
	const max = 512
	if len(s) <= max {
		return s
	}
	s = s[len(s)-max:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.ToValidUTF8(s, "")
}
