package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/mockops/mockops/internal/yamlpos"
)

// LoadDir parses every file of fsys matching pattern (fs.Glob syntax)
// without step types; see Parser.LoadDir.
func LoadDir(fsys fs.FS, pattern string) ([]*Definition, error) {
	return new(Parser).LoadDir(fsys, pattern)
}

// LoadDir parses every file of fsys matching pattern, in lexical order.
// Diagnostics of all files are returned together, as one ErrorList;
// two definitions with the same name are an error.
func (p *Parser) LoadDir(fsys fs.FS, pattern string) ([]*Definition, error) {
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, fmt.Errorf("pipeline: load %q: %w", pattern, err)
	}
	slices.Sort(names)
	var defs []*Definition
	var all yamlpos.ErrorList
	seen := map[string]*Definition{}
	for _, name := range names {
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("pipeline: load %s: %w", name, err)
		}
		d, err := p.parse(name, src)
		if err != nil {
			var list yamlpos.ErrorList
			if !errors.As(err, &list) {
				return nil, err
			}
			all = append(all, list...)
			continue
		}
		if prev, dup := seen[d.Name]; dup {
			all.Add(d.namePos, "duplicate pipeline name %q (also defined in %s)", d.Name, prev.File)
			continue
		}
		seen[d.Name] = d
		defs = append(defs, d)
	}
	if err := all.Err(); err != nil {
		return nil, exportErr(err)
	}
	return defs, nil
}
