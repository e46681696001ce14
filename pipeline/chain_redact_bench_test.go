package pipeline

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkRedactOutputs measures what redacting one step's stored
// outputs costs (building the redactor for its secrets, then one pass over
// the outputs' JSON text) with the JSON escapings of other encoders among
// the forms, beside the exact forms alone (the redactor before them).
func BenchmarkRedactOutputs(b *testing.B) {
	secrets := []string{`p"a<s>s&w'o\rd-ünï`, "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM="}
	outputs, _ := json.Marshal(map[string]any{
		"status": 200,
		"body":   strings.Repeat(`{"id":"evt_123","ok":true,"items":[1,2,3]} `, 80) + `{"echo":"p\"a<s>s&w'o\\rd-ünï"}`,
	})
	text := string(outputs)
	run := func(b *testing.B, build func([]string) redactor) {
		b.ReportAllocs()
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if got := build(secrets).string(text); strings.Contains(got, "ünï\"") {
				b.Fatal("not redacted")
			}
		}
	}
	b.Run("escapes", func(b *testing.B) { run(b, newRedactor) })
	b.Run("exact-forms-baseline", func(b *testing.B) { run(b, exactFormsRedactor) })
}

// exactFormsRedactor is newRedactor without jsonEscapes and the forms
// escaped once more: raw, Go JSON and Go-quoted only.
func exactFormsRedactor(secrets []string) redactor {
	var r redactor
	for _, s := range secrets {
		j, _ := json.Marshal(s)
		for _, f := range []string{s, string(j[1 : len(j)-1]), unquote(strconv.Quote(s)), unquote(strconv.QuoteToASCII(s))} {
			if !slices.Contains(r.forms, f) {
				r.forms = append(r.forms, f)
				r.starred = r.starred || strings.Contains(f, mask[:1])
			}
		}
	}
	slices.SortStableFunc(r.forms, func(a, b string) int { return len(b) - len(a) })
	return r
}
