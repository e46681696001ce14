package expr

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// celEnd is the oracle for the template scanner: the end of the shortest
// prefix of text, cut just before a "}}", that cel-go's own parser reads
// as a whole expression. A cut inside a // comment does not count (CEL
// reads the comment to the end of its line, so the "}}" is comment text):
// it is recognised because the prefix still parses with a ")" appended,
// which outside a comment never parses. ok is false when no prefix
// parses: the scanner may then answer anything but must not panic.
func celEnd(t testing.TB, env *Env, text string) (int, bool) {
	t.Helper()
	parses := func(s string) bool {
		_, iss := env.cel.Parse(s)
		return iss == nil || iss.Err() == nil
	}
	for k := 0; k+1 < len(text); k++ {
		if text[k] != '}' || text[k+1] != '}' || strings.TrimSpace(text[:k]) == "" {
			continue
		}
		if parses(text[:k]) && !parses(text[:k]+")") {
			return k, true
		}
	}
	return 0, false
}

// checkScanner compares the scanner's end of the expression opening
// "${{"+text with the oracle's.
func checkScanner(t *testing.T, env *Env, text string) {
	t.Helper()
	want, ok := celEnd(t, env, text)
	src := "${{" + text
	got, _, found := exprEnd(src, 3)
	if !ok {
		return
	}
	if !found || got-3 != want {
		t.Fatalf("template %q: scanner ends the expression at %d (found %v); cel-go parses %q, ending at %d", src, got-3, found, text[:want], want)
	}
}

// scannerSeeds are the two reported bugs (a triple-quoted string holding
// "}}", a raw string ending in a backslash) and their relatives.
var scannerSeeds = []string{
	` '''a }} b''' }}`,
	` """a }} b""" }}`,
	` '''it's "quoted" }} '''.size() }} tail`,
	` r'C:\dir\' + 'x' }}`,
	` r"C:\dir\" + "}}" }}`,
	` br'\' == b'\\' }}`,
	` R"""a\""" }}`,
	` rb'x' }}`,
	` '''a\''' }} ''' }}`,
	` {'a': {'b': '}}'}} }}`,
	" 1 + // note }}\n 2 }}",
	" // it's a comment\n 'x' }}",
	` ''' }}`,
	` "a\"}}" }}`,
	` bar'}}' }}`,
	" `a-b` }}",
}

func TestTemplateScannerAgreesWithCEL(t *testing.T) {
	env := newEnv(t)
	for _, s := range scannerSeeds {
		checkScanner(t, env, s)
	}
	// Random expressions assembled from CEL's tokens, literals of every
	// kind among them, each followed by "}}" and some more text.
	pieces := []string{
		"a", " ", "+", "1", "(", ")", "{", "}", "}}", "[", "]", ",", ":", ".", "size()", "?", "==",
		"'", `"`, "'''", `"""`, "r'", `r"`, "b'", `br"`, "R'''", `\`, `\'`, `\"`, "//", "\n", "x", "'}}'", `"}}"`,
		"'''}}'''", `r'\'`, `r"\"`, "${{", "e", "`k`",
	}
	rng := rand.New(rand.NewPCG(19, 8))
	for range 5000 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		b.WriteString("}}")
		for range rng.IntN(4) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		checkScanner(t, env, b.String())
	}
}

// FuzzTemplateScanner fuzzes the scanner against cel-go's parser.
func FuzzTemplateScanner(f *testing.F) {
	for _, s := range scannerSeeds {
		f.Add(s)
	}
	env := newEnv(f)
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 160 {
			return // each "}}" costs a parse: keep an input cheap
		}
		checkScanner(t, env, text)
	})
}
