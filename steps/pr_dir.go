package steps

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// readDirectories returns cfg.Files followed by the files of
// cfg.Directories, read from under opts.FilesRoot within its bounds.
func readDirectories(opts CreatePROptions, cfg CreatePRConfig) ([]PRFile, error) {
	root, err := filepath.EvalSymlinks(opts.FilesRoot)
	if err != nil {
		return nil, fmt.Errorf("files root: %w", err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("files root: %w", err)
	}
	files := slices.Clone(cfg.Files)
	seen := map[string]bool{}
	for _, f := range files {
		seen[f.Path] = true
	}
	var total int64
	for i, d := range cfg.Directories {
		from := filepath.FromSlash(d.From)
		if !filepath.IsAbs(from) {
			from = filepath.Join(root, from)
		}
		real, err := filepath.EvalSymlinks(from)
		if err != nil {
			return nil, Permanent(fmt.Errorf("[%d].from %q: %w", i, d.From, err))
		}
		if rel, err := filepath.Rel(root, real); err != nil || !filepath.IsLocal(rel) {
			return nil, Permanent(fmt.Errorf("[%d].from %q is not inside the host's files root", i, d.From))
		}
		err = filepath.WalkDir(real, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(real, p)
			if err != nil {
				return err
			}
			repoPath := path.Join(d.To, filepath.ToSlash(rel))
			if !validRepoPath(repoPath) || seen[repoPath] {
				return Permanent(fmt.Errorf("%s: not a valid repository path, or given twice", repoPath))
			}
			seen[repoPath] = true
			if len(files) >= opts.MaxDirectoryFiles+len(cfg.Files) {
				return Permanent(fmt.Errorf("more than %d files", opts.MaxDirectoryFiles))
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			if total += info.Size(); total > opts.MaxDirectoryBytes {
				return Permanent(fmt.Errorf("more than %d bytes", opts.MaxDirectoryBytes))
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files = append(files, PRFile{Path: repoPath, Content: string(b)})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("[%d] %s: %w", i, d.From, err)
		}
	}
	return files, nil
}
