package steps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// SDKGenerator regenerates the client SDK of one language from an API
// contract. The regenerate_sdk step calls it once per language, in the
// order the languages are listed. CommandGenerator is the default: it runs
// a configured command per language.
type SDKGenerator interface {
	Generate(ctx context.Context, req SDKRequest) (SDKResult, error)
}

// SDKRequest is one language's generation, as the pipeline asked for it.
// Spec and OutputDir come from the pipeline (often from event data): a
// generator must treat them as untrusted paths.
type SDKRequest struct {
	Workspace string
	Language  string
	Spec      string // the contract's path, as the pipeline rendered it
	OutputDir string // the output directory the pipeline asked for ("" = the generator's default)
}

// SDKResult is what one generation produced.
type SDKResult struct {
	Language  string
	OutputDir string          // where the files are, as the host names it
	Files     []GeneratedFile // sorted by Path
	// FilesTruncated is set when there were more files than the generator
	// reports; Files then holds the first ones.
	FilesTruncated bool
	ExitCode       int    // the generator process's exit status (0 for success)
	OutputTail     string // the end of its combined stdout and stderr, bounded
}

// GeneratedFile is one file of a generated SDK.
type GeneratedFile struct {
	Path   string // slash-separated, relative to OutputDir
	SHA256 string // lower-case hex
	Size   int64
}

// RegenerateSDKConfig is the `with:` block of the regenerate_sdk step type.
type RegenerateSDKConfig struct {
	// Spec is the contract to generate from, typically
	// ${{ event.data.spec_path }}.
	Spec string `json:"spec" step:"required"`
	// Languages are the SDKs to generate, by the names the generator knows
	// ("go", "typescript").
	Languages []string `json:"languages" step:"required"`
	// OutputDir is passed to the generator; CommandGenerator reads it as a
	// directory under its root, with one subdirectory per language.
	OutputDir string `json:"output_dir"`
}

// RegisterRegenerateSDK registers the regenerate_sdk step type, which asks
// gen for each language's SDK in turn and fails on the first language that
// fails (the error names it). Outputs:
//
//	languages  a map from language to {output_dir, exit_code, output_tail,
//	           files: [{path, sha256, size}], files_truncated}
//	files      the number of files reported over all languages
//
// On failure the outputs of the languages generated so far are returned
// with the error.
func RegisterRegenerateSDK(r *Registry, gen SDKGenerator) error {
	if gen == nil {
		return errors.New("steps: register regenerate_sdk: nil SDKGenerator")
	}
	return Register(r, "regenerate_sdk", func(cfg RegenerateSDKConfig) (Step, error) {
		if len(cfg.Languages) == 0 {
			return nil, Permanent(errors.New("steps: regenerate_sdk: no languages"))
		}
		for i, l := range cfg.Languages {
			if slices.Contains(cfg.Languages[:i], l) {
				return nil, Permanent(fmt.Errorf("steps: regenerate_sdk: language %q listed twice", l))
			}
		}
		return StepFunc(func(ctx context.Context, in Input) (Output, error) {
			return regenerate(ctx, in, gen, cfg)
		}), nil
	})
}

func regenerate(ctx context.Context, in Input, gen SDKGenerator, cfg RegenerateSDKConfig) (Output, error) {
	langs := make(map[string]any, len(cfg.Languages))
	total := 0
	out := func() Output {
		return Output{Outputs: map[string]any{"languages": langs, "files": total}}
	}
	for _, lang := range cfg.Languages {
		res, err := gen.Generate(ctx, SDKRequest{
			Workspace: in.Event.Workspace,
			Language:  lang,
			Spec:      cfg.Spec,
			OutputDir: cfg.OutputDir,
		})
		if err != nil {
			return out(), fmt.Errorf("steps: regenerate_sdk %s: %w", lang, err)
		}
		files := make([]any, len(res.Files))
		for i, f := range res.Files {
			files[i] = map[string]any{"path": f.Path, "sha256": f.SHA256, "size": f.Size}
		}
		total += len(res.Files)
		if in.Logger != nil {
			in.Logger.LogAttrs(ctx, slog.LevelInfo, "sdk generated", slog.String("language", lang),
				slog.String("output_dir", res.OutputDir), slog.Int("files", len(res.Files)))
		}
		langs[lang] = map[string]any{
			"output_dir":      res.OutputDir,
			"exit_code":       res.ExitCode,
			"output_tail":     res.OutputTail,
			"files":           files,
			"files_truncated": res.FilesTruncated,
		}
	}
	return out(), nil
}
