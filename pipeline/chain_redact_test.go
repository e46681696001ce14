package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/pipeline"
	"github.com/mockops/mockops/steps"
	"github.com/mockops/mockops/store"
)

// TestEngineRedactsEscapedAnswers: a step that stores what an outside
// system answered (an API echoing the token in JSON, written in each
// encoder style, as text, as a parsed value, nested in a map, in an
// error) leaves no form of the secret in the stored execution or the log.
func TestEngineRedactsEscapedAnswers(t *testing.T) {
	tokens := []string{
		`p"a<s>s&w'o\rd`,
		"ünïcødé-秘密-\u2028-😀",
		"***star*secret***",
		"tab\there\u2029and\\slash",
		`</script><b>&amp;"`,
	}
	for _, token := range tokens {
		t.Run(fmt.Sprintf("%q", token), func(t *testing.T) {
			logs := &syncBuffer{}
			log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			answer := func(style string) string {
				return string(encodeStyled(map[string]any{"error": "invalid token " + token, "token": token}, style))
			}
			h := start(t, pipeline.Config{Logger: log, Secrets: mapSecrets{"TOKEN": token}, Steps: registry(map[string]probeFunc{
				"answers": func(_ context.Context, _ steps.Input, cfg probeConfig) (steps.Output, error) {
					if cfg.Secret != token {
						return steps.Output{}, errors.New("the step did not get the token")
					}
					out := map[string]any{}
					for _, style := range jsonStyles {
						var parsed any
						if err := json.Unmarshal([]byte(answer(style)), &parsed); err != nil {
							return steps.Output{}, err
						}
						out["text_"+style] = answer(style)
						out["parsed_"+style] = parsed
						out["nested_"+style] = map[string]any{"body": answer(style), "list": []any{answer(style)}}
					}
					return steps.Output{Outputs: out}, nil
				},
				"refused": func(_ context.Context, _ steps.Input, cfg probeConfig) (steps.Output, error) {
					return steps.Output{}, steps.Permanent(fmt.Errorf("401: %s | %s | %s | %s",
						answer("go"), answer("plain"), answer("ascii"), answer("js")))
				},
			}, nil)})
			h.put(`name: answers
on: [{event: schema.changed}]
steps:
  - {id: a, uses: probe, with: {key: answers, secret: "${{ secrets.TOKEN }}"}}
  - {id: b, uses: probe, needs: [], with: {key: refused, secret: "${{ secrets.TOKEN }}"}}
`)
			x := h.trigger("answers", events.Event{})
			h.stop()
			if a, b := stepRun(t, x, "a"), stepRun(t, x, "b"); a.Status != store.StatusSucceeded || b.Status != store.StatusFailed || !strings.HasPrefix(b.Error, "401: ") {
				t.Fatalf("steps = a %s (%s), b %s (%q); want a succeeded, b failed with the answers", a.Status, a.Error, b.Status, b.Error)
			}
			var out map[string]any
			if err := json.Unmarshal(stepRun(t, x, "a").Output, &out); err != nil || len(out) != 3*len(jsonStyles) {
				t.Fatalf("stored outputs = %s (%v); want every answer kept, redacted", stepRun(t, x, "a").Output, err)
			}
			stored, err := json.Marshal(x)
			if err != nil {
				t.Fatal(err)
			}
			blobs := []blob{{"stored execution", string(stored)}}
			for _, line := range strings.Split(logs.String(), "\n") {
				blobs = append(blobs, blob{"log", line})
			}
			for _, l := range findLeaks(blobs, map[string]map[string]string{"TOKEN": secretForms(token)}) {
				t.Error(l)
			}
		})
	}
}
