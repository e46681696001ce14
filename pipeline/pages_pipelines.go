package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/ui"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// pipelineRow is one line of the pipelines list.
type pipelineRow struct {
	Rec      store.Pipeline
	URL      string
	Loaded   bool
	Problem  string // why it does not load
	Triggers []events.Type
	Last     *store.Execution
	LastURL  string
	Stats    PipelineStats
}

func (p *Pages) pipelines(w http.ResponseWriter, r *http.Request) {
	ws := r.URL.Query().Get("workspace")
	if !p.allowed(w, r, access.Pipelines, access.Read, "", ws) {
		return
	}
	recs, err := p.e.List(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	rows := make([]pipelineRow, 0, len(recs))
	sc := p.e.scopes()
	for _, rec := range recs {
		if (ws != "" && rec.Workspace != ws) || !p.may(r, access.Pipelines, access.Read, rec.Workspace) {
			continue
		}
		row, err := p.row(r, rec, sc)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		rows = append(rows, row)
	}
	data := struct {
		Rows              []pipelineRow
		Workspace, NewURL string
		FormURL           string
	}{rows, ws, p.path("/pipelines/new"), p.path("/pipelines")}
	p.r.Render(w, r, http.StatusOK, "pipelines", ui.Page{Title: "Pipelines", Current: p.path("/pipelines"), Flash: flash(r)}, data)
}

// row gathers what the list shows of one pipeline: its load state, its
// newest execution (when the caller may read it) and its stats (which read
// at most StatsWindow runs).
func (p *Pages) row(r *http.Request, rec store.Pipeline, sc *scopes) (pipelineRow, error) {
	row := pipelineRow{Rec: rec, URL: p.pathTo("pipelines", rec.Name)}
	plan, lerr := p.e.loadState(rec.Name)
	switch {
	case plan != nil:
		row.Loaded, row.Triggers = true, plan.EventTypes()
	case lerr != nil:
		row.Problem = "does not load: " + firstLine(lerr.Error())
	default:
		row.Problem = "not loaded yet"
	}
	page, err := p.e.Executions(r.Context(), store.ExecutionQuery{Pipeline: rec.Name, Limit: 1})
	if err != nil {
		return row, err
	}
	if readable, err := p.readable(r, sc, page.Executions); err != nil {
		return row, err
	} else if len(readable) > 0 {
		row.Last = &readable[0]
		row.LastURL = p.pathTo("executions", row.Last.ID)
	}
	if row.Stats, err = p.e.PipelineStats(r.Context(), rec.Name); err != nil {
		return row, err
	}
	return row, nil
}

// readable keeps, in place, the executions of xs the caller may read, each
// in its own workspace: reading a pipeline is not reading its runs, and an
// unscoped pipeline's runs are of their events' workspaces.
func (p *Pages) readable(r *http.Request, sc *scopes, xs []store.Execution) ([]store.Execution, error) {
	kept := xs[:0]
	for i := range xs {
		ws, err := sc.of(r.Context(), &xs[i])
		if err != nil {
			return nil, err
		}
		if p.may(r, access.Executions, access.Read, ws) {
			kept = append(kept, xs[i])
		}
	}
	return kept, nil
}

// stored reads pipeline name for a page that acts on it. A name that is
// not stored is decided as unscoped for action before the 404, as the
// JSON API does, so that who may not act does not learn it is missing.
// When it answers it returns false.
func (p *Pages) stored(w http.ResponseWriter, r *http.Request, action access.Action, name string) (store.Pipeline, bool) {
	rec, err := p.e.Get(r.Context(), name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && !p.allowed(w, r, access.Pipelines, action, name) {
			return rec, false
		}
		p.fail(w, r, err)
		return rec, false
	}
	return rec, true
}

func firstLine(s string) string {
	first, rest, _ := strings.Cut(s, "\n")
	if rest != "" {
		first += " (and more)"
	}
	return first
}

// sourceLine is one line of a definition shown with its diagnostics.
type sourceLine struct {
	N        int
	Text     string
	Problems []string
}

// problemView is one diagnostic with a link to its line.
type problemView struct {
	Pos, Msg string
	Line     int
}

// annotate splits src into numbered lines and hangs each diagnostic of err
// on its line; diagnostics without a line (and errors that are not an
// ErrorList) are returned apart.
func annotate(src []byte, err error) (lines []sourceLine, problems []problemView) {
	text := strings.ReplaceAll(string(src), "\r\n", "\n")
	text = strings.TrimSuffix(text, "\n")
	for i, l := range strings.Split(text, "\n") {
		lines = append(lines, sourceLine{N: i + 1, Text: l})
	}
	if err == nil {
		return lines, nil
	}
	var list ErrorList
	if !errors.As(err, &list) {
		return lines, []problemView{{Msg: err.Error()}}
	}
	for _, d := range list {
		pv := problemView{Pos: d.Pos.String(), Msg: d.Msg, Line: d.Pos.Line}
		if d.Pos.Line >= 1 && d.Pos.Line <= len(lines) {
			l := &lines[d.Pos.Line-1]
			msg := d.Msg
			if d.Pos.Col > 0 {
				msg = "col " + strconv.Itoa(d.Pos.Col) + ": " + msg
			}
			l.Problems = append(l.Problems, msg)
		} else {
			pv.Line = 0
		}
		problems = append(problems, pv)
	}
	return lines, problems
}

// stepView is one step of a plan as the pipeline page lists it.
type stepView struct {
	ID, Uses, If string
	Needs        []string
	Level        int
}

func (p *Pages) pipeline(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	rec, err := p.e.Get(r.Context(), name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && !p.allowed(w, r, access.Pipelines, access.Read, name) {
			return // do not tell who may not read whether it exists
		}
		p.fail(w, r, err)
		return
	}
	if !p.allowed(w, r, access.Pipelines, access.Read, name, rec.Workspace) {
		return
	}
	plan, lerr := p.e.loadState(name)
	lines, problems := annotate(rec.Source, lerr)
	var stepsV []stepView
	if plan != nil {
		levels := planLevels(plan)
		for _, id := range plan.Order() {
			s, _ := plan.Step(id)
			stepsV = append(stepsV, stepView{ID: id, Uses: s.Uses(), If: s.If(), Needs: s.Needs(), Level: levels[id] + 1})
		}
	}
	recent, err := p.e.Executions(r.Context(), store.ExecutionQuery{Pipeline: name, Limit: 10})
	if err == nil {
		recent.Executions, err = p.readable(r, p.e.scopes(), recent.Executions)
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	stats, err := p.e.PipelineStats(r.Context(), name)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	data := struct {
		Rec                         store.Pipeline
		Plan                        *Plan
		Steps                       []stepView
		Lines                       []sourceLine
		Problems                    []problemView
		Recent                      []execRow
		Stats                       PipelineStats
		EditURL, RunURL, AllRunsURL string
		Prefix                      string
		CanRun                      bool
	}{
		CanRun: p.may(r, access.Pipelines, access.Operate, rec.Workspace),
		Rec:    rec, Plan: plan, Steps: stepsV, Lines: lines, Problems: problems,
		Recent: p.execRows(recent.Executions), Stats: stats,
		EditURL: p.pathTo("pipelines", name, "/edit"), RunURL: p.pathTo("pipelines", name, "/run"),
		AllRunsURL: ui.Query(p.path("/executions"), "pipeline", name), Prefix: p.prefix,
	}
	p.r.Render(w, r, http.StatusOK, "pipeline", ui.Page{Title: "Pipeline " + name, Current: p.path("/pipelines"), Flash: flash(r)}, data)
}

// editorData is what the editor shows: the text being edited and, after a
// failed validation, its problems beside the lines.
type editorData struct {
	Name     string // "" for a new pipeline
	Source   string
	Version  int64
	Action   string
	BackURL  string
	Lines    []sourceLine
	Problems []problemView
	Message  string // a problem that is not a diagnostic (conflict, rename)
	Valid    bool
}

const newTemplate = `name: my-pipeline
description: What it does
on:
  - event: schema.changed
steps:
  - id: first
    uses: emit
    with:
      type: my.event
`

func (p *Pages) editNew(w http.ResponseWriter, r *http.Request) {
	if !p.allowed(w, r, access.Pipelines, access.Read, "") {
		return
	}
	p.editor(w, r, http.StatusOK, editorData{Source: newTemplate, Action: p.path("/pipelines/new"), BackURL: p.path("/pipelines")})
}

func (p *Pages) edit(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	rec, ok := p.stored(w, r, access.Read, name)
	if !ok {
		return
	}
	if !p.allowed(w, r, access.Pipelines, access.Read, name, rec.Workspace) {
		return
	}
	_, lerr := p.e.loadState(name)
	d := editorData{Name: name, Source: string(rec.Source), Version: rec.Version,
		Action: p.pathTo("pipelines", name, "/edit"), BackURL: p.pathTo("pipelines", name)}
	if lerr != nil {
		d.Lines, d.Problems = annotate(rec.Source, lerr)
	}
	p.editor(w, r, http.StatusOK, d)
}

func (p *Pages) editor(w http.ResponseWriter, r *http.Request, status int, d editorData) {
	title := "New pipeline"
	if d.Name != "" {
		title = "Edit " + d.Name
	}
	p.r.Render(w, r, status, "editor", ui.Page{Title: title, Current: p.path("/pipelines")}, d)
}

func (p *Pages) saveNew(w http.ResponseWriter, r *http.Request) { p.saveAs(w, r, "") }
func (p *Pages) save(w http.ResponseWriter, r *http.Request)    { p.saveAs(w, r, r.PathValue("name")) }

// saveAs validates the posted source and stores it when valid: as a new
// pipeline (name "") or as the next version of name, if the version the
// editor read is still the stored one.
func (p *Pages) saveAs(w http.ResponseWriter, r *http.Request, name string) {
	if !p.form(w, r) {
		return
	}
	src := strings.ReplaceAll(r.PostForm.Get("source"), "\r\n", "\n")
	version, _ := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	d := editorData{Name: name, Source: src, Version: version, Action: p.path("/pipelines/new"), BackURL: p.path("/pipelines")}
	var old store.Pipeline
	if name != "" {
		var ok bool
		if old, ok = p.stored(w, r, access.Write, name); !ok {
			return
		}
		d.Action, d.BackURL = p.pathTo("pipelines", name, "/edit"), p.pathTo("pipelines", name)
	}
	file := name
	if file == "" {
		file = "new"
	}
	def, verr := p.e.check(file+".yaml", []byte(src))
	if verr != nil {
		// Showing problems is a read: a viewer may use the editor to check.
		if !p.allowed(w, r, access.Pipelines, access.Read, name, old.Workspace) {
			return
		}
		d.Lines, d.Problems = annotate([]byte(src), verr)
		p.editor(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	if !p.allowed(w, r, access.Pipelines, access.Write, def.Name, def.Workspace, old.Workspace) {
		return
	}
	if name != "" && def.Name != name {
		d.Message = "The definition is named " + strconv.Quote(def.Name) + ", not " + strconv.Quote(name) + ": renaming makes a new pipeline, so use New pipeline for it."
		p.editor(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	if name == "" {
		version = 0
	}
	if _, err := p.e.PutSource(r.Context(), file+".yaml", []byte(src), version); err != nil {
		if errors.Is(err, store.ErrConflict) {
			d.Message = "Not saved: " + strconv.Quote(def.Name) + " was changed (or created) by someone else since this editor opened. Copy your text, reload, and apply it again."
			p.editor(w, r, http.StatusConflict, d)
			return
		}
		p.fail(w, r, err)
		return
	}
	done := "saved"
	if name == "" {
		done = "created"
	}
	http.Redirect(w, r, p.pathTo("pipelines", def.Name, "?done=", done), http.StatusSeeOther)
}

// run triggers the pipeline by hand with the event the form describes.
func (p *Pages) run(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !p.form(w, r) {
		return
	}
	rec, ok := p.stored(w, r, access.Operate, name)
	if !ok {
		return
	}
	ev, msg := formEvent(r, "pipeline.manual")
	if msg != "" {
		p.r.Error(w, r, http.StatusUnprocessableEntity, msg)
		return
	}
	// As the JSON API: a scoped pipeline's runs are its workspace's, an
	// unscoped one's the event's.
	ws := rec.Workspace
	if ws == "" {
		ws = ev.Workspace
	}
	if !p.allowed(w, r, access.Pipelines, access.Operate, name, ws) {
		return
	}
	// As the JSON API too: the event of a scoped pipeline is of its
	// workspace, since steps (emit) pass the event's workspace on, and an
	// operator of this workspace must not act in another through them.
	switch ev.Workspace {
	case rec.Workspace:
	case "":
		ev.Workspace = rec.Workspace
	default:
		if rec.Workspace != "" {
			p.r.Error(w, r, http.StatusUnprocessableEntity, "The event's workspace is not the pipeline's ("+rec.Workspace+"): leave it empty or use that one.")
			return
		}
	}
	id, err := p.e.Trigger(r.Context(), name, ev)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, p.pathTo("executions", id, "?done=triggered"), http.StatusSeeOther)
}

// formEvent builds an event from a form: the pasted CloudEvents JSON in
// "event" if there is one, else "type", "workspace", "subject" and the
// JSON object "data". msg says what is wrong, for the person who typed it.
func formEvent(r *http.Request, defType string) (ev events.Event, msg string) {
	f := r.PostForm
	if raw := strings.TrimSpace(f.Get("event")); raw != "" {
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			return ev, "The pasted event is not a CloudEvents JSON event: " + err.Error()
		}
		return ev, ""
	}
	typ := strings.TrimSpace(f.Get("type"))
	if typ == "" {
		typ = defType
	}
	var data any
	if raw := strings.TrimSpace(f.Get("data")); raw != "" {
		if !json.Valid([]byte(raw)) || !bytes.HasPrefix([]byte(raw), []byte("{")) {
			return ev, "The data must be a JSON object, such as {\"key\": \"value\"}."
		}
		data = json.RawMessage(raw)
	}
	ev, err := events.New(events.Type(typ), strings.TrimSpace(f.Get("workspace")), data)
	if err != nil {
		return ev, "The event is not valid: " + err.Error()
	}
	ev.Subject = strings.TrimSpace(f.Get("subject"))
	return ev, ""
}

// testData is the dry-run page: the form, and the decisions once posted.
type testData struct {
	Action                       string
	Types                        []events.Type
	Event, Type, Workspace, Data string
	Subject                      string
	Message                      string
	Posted                       bool
	EventJSON                    string
	Decisions                    []decisionView
}

type decisionView struct {
	Decision
	URL string
	Err string
}

func (p *Pages) testForm(w http.ResponseWriter, r *http.Request) {
	if !p.allowed(w, r, access.Pipelines, access.Read, "") {
		return
	}
	p.r.Render(w, r, http.StatusOK, "test", ui.Page{Title: "Test an event", Current: p.path("/test")},
		testData{Action: p.path("/test"), Types: events.PlatformTypes(), Type: string(events.TypeSchemaChanged), Data: "{}"})
}

func (p *Pages) test(w http.ResponseWriter, r *http.Request) {
	if !p.form(w, r) {
		return
	}
	f := r.PostForm
	d := testData{Action: p.path("/test"), Types: events.PlatformTypes(), Event: f.Get("event"), Type: f.Get("type"),
		Workspace: f.Get("workspace"), Data: f.Get("data"), Subject: f.Get("subject"), Posted: true}
	ev, msg := formEvent(r, string(events.TypeSchemaChanged))
	if !p.allowed(w, r, access.Pipelines, access.Read, "", ev.Workspace) {
		return
	}
	status := http.StatusOK
	if msg != "" {
		d.Message, status = msg, http.StatusUnprocessableEntity
	} else {
		b, _ := json.MarshalIndent(ev, "", "  ")
		d.EventJSON = string(b)
		decisions, err := p.e.Test(r.Context(), ev)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		for _, dec := range decisions {
			plan, _ := p.e.loadState(dec.Pipeline)
			if plan != nil && !p.may(r, access.Pipelines, access.Read, plan.Workspace()) {
				continue
			}
			v := decisionView{Decision: dec, URL: p.pathTo("pipelines", dec.Pipeline)}
			if dec.Err != nil {
				v.Err = dec.Err.Error()
			}
			d.Decisions = append(d.Decisions, v)
		}
	}
	p.r.Render(w, r, status, "test", ui.Page{Title: "Test an event", Current: p.path("/test")}, d)
}
