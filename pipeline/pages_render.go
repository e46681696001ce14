package pipeline

import (
	"html/template"
	"strconv"

	"github.com/mockops/mockops/internal/ui"
)

// The repeated parts of the pages, written with ui.Builder rather than
// html/template: a 100-row list or a 50-step timeline is over a thousand
// template actions, each paying reflection for its escapers (see
// ui.Builder). The markup is the same a template would write; every value
// goes through Text, Attr or URL.

// execTableHTML is the table of an executions list.
func execTableHTML(rows []execRow) template.HTML {
	if len(rows) == 0 {
		return `<p class="muted">No executions.</p>`
	}
	var b ui.Builder
	b.Grow(300 + 600*len(rows))
	b.Raw(`<div class="table-wrap"><table>
<thead><tr><th scope="col">Execution</th><th scope="col">Pipeline</th><th scope="col">Status</th><th scope="col">Event</th><th scope="col">Workspace</th><th scope="col">Created</th><th scope="col">Duration</th></tr></thead>
<tbody>`)
	for i := range rows {
		r := &rows[i]
		b.Raw(`<tr`)
		b.Attr("data-execution", r.X.ID)
		b.Raw(`><th scope="row"><a href="`)
		b.URL(r.URL)
		b.Raw(`"><code>`)
		b.Text(r.X.ID)
		b.Raw(`</code></a></th><td><a href="`)
		b.URL(r.PipelineURL)
		b.Raw(`">`)
		b.Text(r.X.Pipeline)
		b.Raw(`</a></td><td>`)
		b.Badge(string(r.X.Status))
		if r.X.CancelRequested && !r.X.Status.Terminal() {
			b.Raw(" ")
			b.Badge("cancel requested")
		}
		b.Raw(`</td><td><code>`)
		b.Text(string(r.X.Event.Type))
		b.Raw(`</code></td><td>`)
		b.Text(r.X.Event.Workspace)
		b.Raw(`</td><td><time datetime="`)
		b.Raw(ui.ISO(r.X.CreatedAt)) // digits and punctuation only
		b.Raw(`">`)
		b.Raw(ui.When(r.X.CreatedAt))
		b.Raw(`</time></td><td>`)
		b.Raw(ui.Duration(r.Duration))
		b.Raw("</td></tr>\n")
	}
	b.Raw(`</tbody></table></div>`)
	return b.HTML()
}

// timelineHTML is an execution's steps, one row per DAG level.
func timelineHTML(levels [][]stepCard) template.HTML {
	if len(levels) == 0 {
		return `<ol class="timeline"><li class="muted">No steps recorded yet.</li></ol>`
	}
	var b ui.Builder
	b.Grow(1200 * len(levels))
	b.Raw(`<ol class="timeline">`)
	for i, lv := range levels {
		b.Raw(`<li><h3>Level `)
		b.Raw(strconv.Itoa(i + 1))
		b.Raw(`</h3><ul class="level">`)
		for j := range lv {
			stepCardHTML(&b, &lv[j])
		}
		b.Raw("</ul></li>\n")
	}
	b.Raw(`</ol>`)
	return b.HTML()
}

func stepCardHTML(b *ui.Builder, c *stepCard) {
	status := string(c.Status)
	b.Raw(`<li class="step s-`)
	b.Raw(ui.Tone(status))
	b.Raw(`"`)
	b.Attr("data-step", c.ID)
	b.Raw(`><h4 style="margin:0;font-size:1rem"><code>`)
	b.Text(c.ID)
	b.Raw(`</code> `)
	b.Badge(status)
	b.Raw(`</h4><dl class="facts"><dt>Type</dt><dd><code>`)
	b.Text(c.Uses)
	b.Raw(`</code></dd>`)
	if len(c.Needs) > 0 {
		b.Raw(`<dt>Needs</dt><dd>`)
		for k, n := range c.Needs {
			if k > 0 {
				b.Raw(", ")
			}
			b.Raw("<code>")
			b.Text(n)
			b.Raw("</code>")
		}
		b.Raw(`</dd>`)
	}
	b.Raw(`<dt>Outcome</dt><dd>`)
	switch {
	case c.OutcomeNote != "":
		b.Text(c.OutcomeNote)
	case c.Outcome != "":
		b.Text(string(c.Outcome))
	default:
		b.Raw("—")
	}
	b.Raw(`</dd><dt>Attempts</dt><dd>`)
	b.Raw(strconv.Itoa(c.Attempts))
	b.Raw(`</dd><dt>Started</dt><dd><time datetime="`)
	b.Raw(ui.ISO(c.StartedAt))
	b.Raw(`">`)
	b.Raw(ui.When(c.StartedAt))
	b.Raw(`</time></dd><dt>Duration</dt><dd>`)
	b.Raw(ui.Duration(c.Duration))
	b.Raw(`</dd>`)
	if c.EmittedID != "" {
		b.Raw(`<dt>Emitted</dt><dd><a href="`)
		b.URL(c.EmittedURL)
		b.Raw(`">executions of event <code>`)
		b.Text(c.EmittedID)
		b.Raw(`</code></a></dd>`)
	}
	b.Raw(`</dl>`)
	if c.Error != "" {
		b.Raw(`<p class="problem"><strong>Error:</strong> `)
		b.Text(c.Error)
		b.Raw(`</p>`)
	}
	if c.With != "" {
		b.Raw(`<details><summary>Config (rendered, secrets redacted)</summary><pre>`)
		b.Text(c.With)
		b.Raw(`</pre></details>`)
	}
	if c.Output != "" {
		b.Raw(`<details><summary>Outputs</summary><pre>`)
		b.Text(c.Output)
		b.Raw(`</pre></details>`)
	}
	b.Raw("</li>\n")
}
