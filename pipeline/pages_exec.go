package pipeline

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/mockops/mockops/events"
	"github.com/mockops/mockops/internal/cursor"
	"github.com/mockops/mockops/internal/ui"
	"github.com/mockops/mockops/store"
	"github.com/mockops/mockops/store/access"
)

// ExtRerunOf is the extension attribute of the event a re-run triggers
// with: the id of the execution it repeats.
const ExtRerunOf = "rerunof"

// execRow is one line of an executions list.
type execRow struct {
	X           *store.Execution // into the listed slice: rows are not copies
	URL         string
	PipelineURL string
	Duration    time.Duration
}

func (p *Pages) execRows(xs []store.Execution) []execRow {
	rows := make([]execRow, len(xs))
	for i := range xs {
		x := &xs[i]
		rows[i] = execRow{X: x, URL: p.pathTo("executions", x.ID), PipelineURL: p.pathTo("pipelines", x.Pipeline)}
		if !x.StartedAt.IsZero() && !x.FinishedAt.IsZero() {
			rows[i].Duration = x.FinishedAt.Sub(x.StartedAt)
		}
	}
	return rows
}

// execFilter is the executions list's query: what the store filters
// (pipeline, status) and what the page filters while it reads pages
// (workspace, time window, event, causing event).
type execFilter struct {
	Pipeline, Status, Workspace string
	From, To                    string // as typed (datetime-local, UTC)
	Event, CausedBy             string
	Cursor                      string
	Limit                       int

	from, to time.Time
}

// timeLayouts are what the time window accepts: the datetime-local input's
// forms, and RFC 3339.
var timeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339, "2006-01-02"}

func parseWhen(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func readFilter(q url.Values) (execFilter, string) {
	f := execFilter{Pipeline: q.Get("pipeline"), Status: q.Get("status"), Workspace: q.Get("workspace"),
		From: q.Get("from"), To: q.Get("to"), Event: q.Get("event"), CausedBy: q.Get("caused_by"), Cursor: q.Get("cursor")}
	f.Limit, _ = strconv.Atoi(q.Get("limit"))
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	var ok bool
	if f.from, ok = parseWhen(f.From); !ok {
		return f, "The start of the time window is not a date and time (2006-01-02T15:04, UTC)."
	}
	if f.to, ok = parseWhen(f.To); !ok {
		return f, "The end of the time window is not a date and time (2006-01-02T15:04, UTC)."
	}
	if f.Status != "" && !knownStatus(store.Status(f.Status)) {
		return f, "Unknown status " + strconv.Quote(f.Status) + "."
	}
	return f, ""
}

func knownStatus(s store.Status) bool {
	for _, x := range statuses {
		if x == s && s != store.StatusSkipped {
			return true
		}
	}
	return false
}

// query renders f as the list's query string, with cursor c.
func (f execFilter) query(base, c string) string {
	lim := ""
	if f.Limit != 50 {
		lim = strconv.Itoa(f.Limit)
	}
	return ui.Query(base, "pipeline", f.Pipeline, "status", f.Status, "workspace", f.Workspace, "from", f.From,
		"to", f.To, "event", f.Event, "caused_by", f.CausedBy, "limit", lim, "cursor", c)
}

// keep applies the filters but the workspace, which needs the execution's
// scope (see scopes).
func (f execFilter) keep(x *store.Execution) bool {
	switch {
	case f.Event != "" && x.EventID != f.Event,
		f.CausedBy != "" && x.Event.Extensions[events.ExtCausationID] != f.CausedBy,
		!f.to.IsZero() && x.CreatedAt.After(f.to),
		!f.from.IsZero() && x.CreatedAt.Before(f.from):
		return false
	}
	return true
}

// scanBudget bounds how many executions one list page reads from the store
// when the page's own filters (workspace, time, event) leave most out; the
// page then offers to read on from where it stopped.
const scanBudget = 2000

// listExecutions reads the page of f: store pages of the store's filters,
// kept when the page's filters and the caller's read access allow, until
// f.Limit rows, the end, the start of the time window or scanBudget.
// The next cursor is the id of the last execution read, which is how
// every adapter's cursors are made (internal/cursor), so no row is lost
// between pages even when a store page is only partly shown.
func (p *Pages) listExecutions(r *http.Request, f execFilter) (rows []store.Execution, next string, scanned bool, err error) {
	q := store.ExecutionQuery{Pipeline: f.Pipeline, Status: store.Status(f.Status), Limit: f.Limit, Cursor: f.Cursor}
	read := 0
	sc := p.e.scopes()
	allowed := map[string]bool{}
	for {
		page, err := p.e.Executions(r.Context(), q)
		if err != nil {
			return nil, "", false, err
		}
		for i := range page.Executions {
			x := &page.Executions[i]
			read++
			if !f.from.IsZero() && x.CreatedAt.Before(f.from) {
				return rows, "", false, nil // newest first: nothing older can match
			}
			ws, err := sc.of(r.Context(), x)
			if err != nil {
				return nil, "", false, err
			}
			ok, seen := allowed[ws]
			if !seen {
				ok = p.may(r, access.Executions, access.Read, ws)
				allowed[ws] = ok
			}
			if ok && (f.Workspace == "" || ws == f.Workspace) && f.keep(x) {
				rows = append(rows, *x)
			}
			if len(rows) == f.Limit || read >= scanBudget {
				if i == len(page.Executions)-1 && page.Next == "" {
					return rows, "", false, nil // the very last one: no older page
				}
				return rows, cursor.Encode(x.ID), read >= scanBudget && len(rows) < f.Limit, nil
			}
		}
		if page.Next == "" {
			return rows, "", false, nil
		}
		q.Cursor = page.Next
	}
}

// execListData is the executions list page.
type execListData struct {
	F               execFilter
	Rows            []execRow
	Statuses        []store.Status
	Pipelines       []string
	Action, NextURL string
	FirstURL        string
	Budget          bool // the scan budget ended the page early
}

func (p *Pages) executions(w http.ResponseWriter, r *http.Request) {
	f, msg := readFilter(r.URL.Query())
	// As the JSON API: the runs of one scoped pipeline are its workspace's
	// (each row is checked in its own workspace all the same).
	ws := f.Workspace
	if ws == "" && f.Pipeline != "" {
		rec, err := p.e.Get(r.Context(), f.Pipeline)
		switch {
		case err == nil:
			ws = rec.Workspace
		case !errors.Is(err, store.ErrNotFound):
			p.fail(w, r, err)
			return
		}
	}
	if !p.allowed(w, r, access.Executions, access.Read, f.Pipeline, ws) {
		return
	}
	if msg != "" {
		p.r.Error(w, r, http.StatusBadRequest, msg)
		return
	}
	xs, next, budget, err := p.listExecutions(r, f)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	base := p.path("/executions")
	data := execListData{F: f, Rows: p.execRows(xs), Action: base, Budget: budget}
	for _, s := range statuses {
		if s != store.StatusSkipped {
			data.Statuses = append(data.Statuses, s)
		}
	}
	// Only the pipelines the caller may read, as the pipelines list shows
	// them: the names of another workspace's pipelines are its own.
	// One decision per workspace, however many pipelines it has.
	readable := map[string]bool{}
	for _, name := range p.e.snap.Load().names {
		ws, ok := p.e.loadedWorkspace(name)
		if !ok {
			continue
		}
		may, seen := readable[ws]
		if !seen {
			may = p.may(r, access.Pipelines, access.Read, ws)
			readable[ws] = may
		}
		if may {
			data.Pipelines = append(data.Pipelines, name)
		}
	}
	if next != "" {
		data.NextURL = f.query(base, next)
	}
	if f.Cursor != "" {
		data.FirstURL = f.query(base, "")
	}
	// No auto-refresh here, unlike one running execution's page: it would
	// reload the filter form under the person typing in it.
	p.r.Render(w, r, http.StatusOK, "executions", ui.Page{Title: "Executions", Current: base}, data)
}

// planLevels gives each step of plan its DAG level: 0 for steps that need
// nothing, else one more than the deepest step it needs. Steps of a level
// can run side by side.
func planLevels(plan *Plan) map[string]int {
	levels := map[string]int{}
	for _, id := range plan.Order() { // topological: needs come first
		s, _ := plan.Step(id)
		l := 0
		for _, n := range s.Needs() {
			l = max(l, levels[n]+1)
		}
		levels[id] = l
	}
	return levels
}

// stepCard is one step of an execution's timeline.
type stepCard struct {
	store.StepRun
	Needs       []string
	Duration    time.Duration
	With        string
	Output      string
	EmittedID   string // an emit step's event_id output
	EmittedURL  string // the executions that event triggered
	OutcomeNote string // "failure, continued" when outcome and conclusion differ
}

// timeline groups steps by DAG level, in plan order within a level. The
// plan is the loaded version when it is the execution's version, or has
// every one of its steps; otherwise each step is its own level, in the
// order the execution lists them.
func (p *Pages) timeline(x store.Execution) [][]stepCard {
	plan, _ := p.e.loadState(x.Pipeline)
	var levels map[string]int
	if plan != nil {
		levels = planLevels(plan)
		for _, s := range x.Steps {
			if _, ok := levels[s.ID]; !ok {
				levels = nil
				break
			}
		}
	}
	var out [][]stepCard
	for i, s := range x.Steps {
		c := stepCard{StepRun: s, With: ui.PrettyJSON(s.With), Output: ui.PrettyJSON(s.Output)}
		if !s.StartedAt.IsZero() && !s.FinishedAt.IsZero() {
			c.Duration = s.FinishedAt.Sub(s.StartedAt)
		}
		if s.Outcome != "" && s.Conclusion != "" && s.Outcome != s.Conclusion {
			c.OutcomeNote = string(s.Outcome) + " (continue_on_error: concluded " + string(s.Conclusion) + ")"
		}
		if len(s.Output) > 0 {
			var o struct {
				EventID string `json:"event_id"`
			}
			if json.Unmarshal(s.Output, &o) == nil && o.EventID != "" {
				c.EmittedID, c.EmittedURL = o.EventID, ui.Query(p.path("/executions"), "event", o.EventID)
			}
		}
		l := i
		if levels != nil {
			st, _ := plan.Step(s.ID)
			c.Needs, l = st.Needs(), levels[s.ID]
		}
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], c)
	}
	// Levels left empty (sequential fallback never leaves any; a plan can
	// only when steps are missing) are dropped.
	kept := out[:0]
	for _, lv := range out {
		if len(lv) > 0 {
			kept = append(kept, lv)
		}
	}
	return kept
}

// causationScan bounds how many of the newest executions the execution
// page reads to find those this one caused and its re-runs.
const causationScan = 500

// related finds, among the newest causationScan executions, those whose
// event was caused by x's event (raised by a step of x, or of another
// execution of the same event) and the re-runs of x.
func (p *Pages) related(r *http.Request, x store.Execution) (caused, reruns []store.Execution, err error) {
	q := store.ExecutionQuery{Limit: 250}
	sc := p.e.scopes()
	for read := 0; read < causationScan; {
		page, err := p.e.Executions(r.Context(), q)
		if err != nil {
			return nil, nil, err
		}
		for _, y := range page.Executions {
			read++
			ws, err := sc.of(r.Context(), &y)
			if err != nil {
				return nil, nil, err
			}
			if !p.may(r, access.Executions, access.Read, ws) {
				continue
			}
			if y.Event.Extensions[events.ExtCausationID] == x.EventID && y.Event.Extensions[ExtRerunOf] == "" {
				caused = append(caused, y)
			}
			if y.Event.Extensions[ExtRerunOf] == x.ID {
				reruns = append(reruns, y)
			}
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	return caused, reruns, nil
}

// execData is the execution page.
type execData struct {
	X                   store.Execution
	Levels              [][]stepCard
	Duration            time.Duration
	Event               string
	PipelineURL         string
	CancelURL, RerunURL string
	CausedByURL         string // the executions of the event that caused this one's
	CausationID         string
	RerunOfURL, RerunOf string
	Caused, Reruns      []execRow
	CanCancel           bool
	CanOperate          bool // the caller may cancel and re-run
}

func (p *Pages) executionPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	x, err := p.e.execution(r.Context(), id)
	if err != nil {
		if !p.allowed(w, r, access.Executions, access.Read, id) {
			return
		}
		p.fail(w, r, err)
		return
	}
	ws, err := p.e.scopes().of(r.Context(), &x)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if !p.allowed(w, r, access.Executions, access.Read, id, ws) {
		return
	}
	caused, reruns, err := p.related(r, x)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := p.execData(x)
	d.Caused, d.Reruns = p.execRows(caused), p.execRows(reruns)
	d.CanOperate = p.may(r, access.Executions, access.Operate, ws)
	page := ui.Page{Title: "Execution " + x.ID, Current: p.path("/executions"), Flash: flash(r)}
	if !x.Status.Terminal() {
		page.Refresh = 2
	}
	p.r.Render(w, r, http.StatusOK, "execution", page, d)
}

// execData is everything the execution page shows but the related
// executions (which read the store).
func (p *Pages) execData(x store.Execution) execData {
	ev, _ := json.MarshalIndent(x.Event, "", "  ")
	d := execData{X: x, Levels: p.timeline(x), Event: string(ev),
		PipelineURL: p.pathTo("pipelines", x.Pipeline),
		CancelURL:   p.pathTo("executions", x.ID, "/cancel"), RerunURL: p.pathTo("executions", x.ID, "/rerun"),
		CanCancel: !x.Status.Terminal()}
	if !x.StartedAt.IsZero() && !x.FinishedAt.IsZero() {
		d.Duration = x.FinishedAt.Sub(x.StartedAt)
	}
	if c := x.Event.Extensions[events.ExtCausationID]; c != "" {
		d.CausationID, d.CausedByURL = c, ui.Query(p.path("/executions"), "event", c)
	}
	if o := x.Event.Extensions[ExtRerunOf]; o != "" {
		d.RerunOf, d.RerunOfURL = o, p.pathTo("executions", o)
	}
	return d
}

// operable reads the execution of the request's path and decides Operate
// on it in its workspace (a missing one unscoped first, so its absence is
// told only to those allowed to act), answering when it may not go on.
func (p *Pages) operable(w http.ResponseWriter, r *http.Request) (store.Execution, bool) {
	id := r.PathValue("id")
	x, err := p.e.execution(r.Context(), id)
	if err != nil {
		if p.allowed(w, r, access.Executions, access.Operate, id) {
			p.fail(w, r, err)
		}
		return x, false
	}
	ws, err := p.e.scopes().of(r.Context(), &x)
	if err != nil {
		p.fail(w, r, err)
		return x, false
	}
	return x, p.allowed(w, r, access.Executions, access.Operate, id, ws)
}

func (p *Pages) cancel(w http.ResponseWriter, r *http.Request) {
	x, ok := p.operable(w, r)
	if !ok {
		return
	}
	id := x.ID
	if _, err := p.e.Cancel(r.Context(), id); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, p.pathTo("executions", id, "?done=cancelled"), http.StatusSeeOther)
}

// rerunEvent is the event a re-run of x triggers with: x's event under a
// new id and time, marked with ExtRerunOf (see NewPages).
func rerunEvent(x store.Execution, now time.Time) events.Event {
	ev := x.Event
	ev.ID = events.NewID(now)
	ev.Time = now.UTC()
	ext := make(map[string]string, len(ev.Extensions)+1)
	maps.Copy(ext, ev.Extensions)
	ext[ExtRerunOf] = x.ID
	ev.Extensions = ext
	return ev
}

func (p *Pages) rerun(w http.ResponseWriter, r *http.Request) {
	x, ok := p.operable(w, r)
	if !ok {
		return
	}
	nid, err := p.e.Trigger(r.Context(), x.Pipeline, rerunEvent(x, p.e.now()))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, p.pathTo("executions", nid, "?done=rerun"), http.StatusSeeOther)
}
