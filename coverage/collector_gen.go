package coverage

import (
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mockops/mockops/store"
)

// Rollup kinds the collector writes (store.Rollup.Kind). Keys are made of
// tab-separated fields; the variable field comes first and the fixed ones
// (branch, mode) are read from the end, so a name holding a tab still
// parses.
const (
	KindRequests   = "requests"    // Key: mode ("ci" or "local")
	KindEndpoint   = "endpoint"    // Key: "METHOD template\tbranch\tmode"
	KindMissing    = "missing"     // Key: "METHOD path\tmode"
	KindDrift      = "drift"       // Key: "METHOD template\tbranch\tcompared|drifted"
	KindScenario   = "scenario"    // Key: scenario
	KindPersona    = "persona"     // Key: "persona\tmode"
	KindPersonaRun = "persona_run" // Key: "persona\trun id"
)

const (
	modeCI    = "ci"
	modeLocal = "local"
)

// svcKey identifies a service's traffic: the same service name may be
// mocked in several workspaces.
type svcKey struct{ ws, name string }

// service is where a (workspace, service) pair's counters are found: its
// index in every generation's endpoint table, and the compiled spec in
// force.
type service struct {
	key  svcKey
	idx  int
	comp atomic.Pointer[compiled]
}

// compiled is a spec laid out for dense counters. Slots 0 and 1 count the
// service's requests (CI, local). Operation i's slots start at base[i]:
//
//	+0 +1        operation hit          (CI, local)
//	+2 +3        request body           (CI, local)
//	+4+2j +5+2j  declared response j    (CI, local)
//	then         operation compared, drifted (comparisons with no declared response)
//	then         response j compared, drifted
type compiled struct {
	spec  *Spec
	hash  string
	base  []int32
	width int
	// opKey and respKey are the rollup key parts, built once.
	opKey   []string   // "GET /pets/{id}"
	respKey [][]string // "response:200"
}

// noSpec is the layout of a service without a spec: its request counts.
var noSpec = &compiled{width: 2}

func compile(s *Spec) *compiled {
	c := &compiled{spec: s, hash: ContractHash(s), base: make([]int32, len(s.ops)), width: 2}
	c.opKey = make([]string, len(s.ops))
	c.respKey = make([][]string, len(s.ops))
	for i := range s.ops {
		op := &s.ops[i]
		k := len(op.Responses)
		c.base[i] = int32(c.width)
		c.width += 6 + 4*k
		c.opKey[i] = op.Method + " " + op.Path
		c.respKey[i] = make([]string, k)
		for j, r := range op.Responses {
			c.respKey[i][j] = "response:" + r.Key
		}
	}
	return c
}

// cmpBase returns the first comparison slot of the operation at base b.
func cmpBase(b int32, k int) int32 { return b + 4 + 2*int32(k) }

// generation counts one time bucket. Writers find it through
// Collector.gen and count into it between enter and exit. Once replaced,
// a flush seals it and drains it; it is forgotten only when no writer is
// inside it after the seal, so a writer that loaded it just before the
// switch loses nothing: writers that find it sealed go to the current one.
type generation struct {
	bucket, end time.Time
	eps         []atomic.Pointer[epCounters] // by service index
	epMu        sync.Mutex
	oldEps      []*epCounters // guarded by epMu: replaced by a spec change
	dims        dimTable

	// active counts writers inside; sealed is set once the generation is
	// retired and a flush wants to forget it. A writer increments active
	// and then reads sealed, a flush stores sealed and then reads active:
	// with sequentially consistent atomics, a writer that read false is
	// seen by the flush's read (see enter and drainLocked).
	active atomic.Int64
	sealed atomic.Bool
}

// enter returns the generation to count into, with the caller inside it;
// the caller calls exit when done.
func (c *Collector) enter() *generation {
	for {
		g := c.gen.Load()
		g.active.Add(1)
		if !g.sealed.Load() {
			return g
		}
		g.active.Add(-1) // retired meanwhile: the current one takes the count
	}
}

func (g *generation) exit() { g.active.Add(-1) }

// epCounters are one service's dense counters for one spec.
type epCounters struct {
	svc    *service
	comp   *compiled
	counts []atomic.Int64
}

func (c *Collector) newGeneration(t time.Time) *generation {
	b := t.UTC().Truncate(c.cfg.Bucket)
	g := &generation{bucket: b, end: b.Add(c.cfg.Bucket), eps: make([]atomic.Pointer[epCounters], c.cfg.MaxServices+1)}
	g.dims.init(c.cfg.MaxKeys, c.cfg.MaxServices)
	return g
}

// endpoints returns the counters of svc under its current spec.
func (g *generation) endpoints(svc *service) *epCounters {
	comp := svc.comp.Load()
	if ec := g.eps[svc.idx].Load(); ec != nil && ec.comp == comp {
		return ec
	}
	return g.newEndpoints(svc, comp)
}

func (g *generation) newEndpoints(svc *service, comp *compiled) *epCounters {
	g.epMu.Lock()
	defer g.epMu.Unlock()
	old := g.eps[svc.idx].Load()
	if old != nil && old.comp == comp {
		return old
	}
	ec := &epCounters{svc: svc, comp: comp, counts: make([]atomic.Int64, comp.width)}
	if old != nil {
		g.oldEps = append(g.oldEps, old) // still drained: a writer may hold it
	}
	g.eps[svc.idx].Store(ec)
	return ec
}

// dimKind is a string dimension counted through dimTable.
type dimKind uint8

const (
	dimScenario dimKind = iota
	dimPersona
	dimPersonaRun
	dimMissing
	dimUndeclared
	dimDrift
	nDims
)

// dimKey is one counted value. The (workspace, service) pair is its
// service index, so that a lookup hashes two strings, not four. Strings
// are the ones the request carried until the key is stored, when they
// are cloned.
type dimKey struct {
	kind dimKind
	ci   bool
	svc  int32 // index in Collector.svcList; 0 is the overflow service
	n    int32
	a, b string
}

// dimTable interns dimension keys to counter slots. Lookups read an
// immutable index (dimIndex) through an atomic pointer; a miss takes the lock, finds
// or adds the key in dirty (a superset of read), and republishes read
// once the misses have paid for the copy, so inserts cost amortised O(1)
// and lookups of known keys never lock. Capacity is fixed when the
// generation is made, so the counters never move.
type dimTable struct {
	read atomic.Pointer[dimIndex]
	seed maphash.Seed

	mu      sync.Mutex
	dirty   map[dimKey]int32 // guarded by mu
	keys    []dimKey         // guarded by mu; slot i's key
	perKind [nDims]int       // guarded by mu; distinct non-overflow keys
	misses  int              // guarded by mu
	maxKeys int
	// limit is where the per-(workspace, service) overflow keys stop and
	// only the global ones (reserved at the end) remain.
	limit int

	counts []atomic.Int64
	last   []atomic.Int64 // Unix nanoseconds of the latest hit
}

// MaxKeyBytes is the longest string dimension value (scenario, persona,
// CI run id, path missing from the spec, drift path) the collector keeps:
// a longer one, which only a client making its header or path huge
// sends, counts under OverflowKey, so that MaxKeys values take bounded
// memory and store space.
const MaxKeyBytes = 1024

// globalOverflow is how many slots the global overflow keys can take:
// every kind, CI or not, n 0 or 1.
const globalOverflow = int(nDims) * 4

func (d *dimTable) init(maxKeys, maxServices int) {
	d.maxKeys = maxKeys
	d.limit = int(nDims)*maxKeys + int(nDims)*2*(maxServices+1)
	n := d.limit + globalOverflow
	d.counts = make([]atomic.Int64, n)
	d.last = make([]atomic.Int64, n)
	d.dirty = map[dimKey]int32{}
	d.seed = maphash.MakeSeed()
}

// add counts one hit of k at now.
func (d *dimTable) add(k dimKey, now int64) { d.addN(k, 1, now) }

// addN counts n hits of k at now.
func (d *dimTable) addN(k dimKey, n, now int64) {
	i, ok := int32(-1), false
	if r := d.read.Load(); r != nil {
		i, ok = r.find(&k)
	}
	if !ok {
		i = d.slot(k)
	}
	d.counts[i].Add(n)
	for {
		l := d.last[i].Load()
		if l >= now || d.last[i].CompareAndSwap(l, now) {
			return
		}
	}
}

func (d *dimTable) slot(k dimKey) int32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i, ok := d.dirty[k]; ok {
		d.missed()
		return i
	}
	// A value past MaxKeyBytes is past the cap too: MaxKeys bounds how
	// many values are kept, this how large each is.
	if long := len(k.a) > MaxKeyBytes || len(k.b) > MaxKeyBytes; long || d.perKind[k.kind] >= d.maxKeys {
		k = overflowKey(k, len(d.keys) >= d.limit)
		if len(k.a) > MaxKeyBytes {
			k.a = OverflowKey // a persona run keeps its persona, unless that is the long one
		}
		if i, ok := d.dirty[k]; ok {
			d.missed()
			return i
		}
	} else {
		d.perKind[k.kind]++
	}
	k.a, k.b = strings.Clone(k.a), strings.Clone(k.b)
	i := int32(len(d.keys))
	d.keys = append(d.keys, k)
	d.dirty[k] = i
	d.missed()
	return i
}

// overflowKey is the key a value past the cap counts under: its
// workspace and service kept while room remains, then global.
func overflowKey(k dimKey, global bool) dimKey {
	o := dimKey{kind: k.kind, ci: k.ci, svc: k.svc, a: OverflowKey}
	if k.kind == dimDrift {
		o.n = k.n // compared or drifted
	}
	if k.kind == dimPersonaRun {
		o.a, o.b = k.a, OverflowKey // the persona stays, its runs overflow
	}
	if global {
		o.svc = 0
		if k.kind == dimPersonaRun {
			o.a = OverflowKey
		}
	}
	return o
}

// missed republishes read once enough misses have gone to the lock.
func (d *dimTable) missed() {
	d.misses++
	r := d.read.Load()
	if r != nil && d.misses < len(r.keys)/4+8 {
		return
	}
	if r != nil && len(r.keys) == len(d.keys) {
		d.misses = 0
		return
	}
	d.read.Store(newDimIndex(d.seed, d.keys[:len(d.keys):len(d.keys)]))
	d.misses = 0
}

// drainLocked moves every count (pending ones first) into rollups, one
// per key, and forgets the retired generations no writer is inside once
// sealed. c.flushMu is held.
func (c *Collector) drainLocked(now time.Time) []store.Rollup {
	acc := rollupAcc{m: map[rollupID]int{}, rs: c.pending}
	for i, r := range acc.rs {
		acc.m[idOf(r)] = i
	}
	idle := make([]bool, len(c.retired))
	for i, g := range c.retired {
		g.sealed.Store(true)
		idle[i] = g.active.Load() == 0 // read after the seal: no writer can enter now
	}
	// The services are copied after the seals, so every service an idle
	// generation counted is in svcs; a key of a service registered later
	// (only in a generation still written to) waits for the next drain.
	c.svcMu.Lock()
	svcs := slices.Clone(c.svcList)
	c.svcMu.Unlock()
	keep := c.retired[:0]
	for i, g := range c.retired {
		g.drain(&acc, now, svcs)
		if !idle[i] {
			keep = append(keep, g) // a writer is still counting: drain it again next time
		}
	}
	clear(c.retired[len(keep):])
	c.retired = keep
	c.gen.Load().drain(&acc, now, svcs)
	return acc.rs
}

// rollupAcc merges rollups by key, so one batch never holds a key twice.
type rollupAcc struct {
	m  map[rollupID]int
	rs []store.Rollup
}

type rollupID struct {
	kind, ws, svc, key string
	bucket             int64
}

func idOf(r store.Rollup) rollupID {
	return rollupID{r.Kind, r.Workspace, r.Service, r.Key, r.Bucket.UnixNano()}
}

func (a *rollupAcc) add(r store.Rollup) {
	r.Workspace, r.Service, r.Key = clean(r.Workspace), clean(r.Service), clean(r.Key)
	id := idOf(r)
	if i, ok := a.m[id]; ok {
		a.rs[i].Count += r.Count
		if r.LastSeen.After(a.rs[i].LastSeen) {
			a.rs[i].LastSeen = r.LastSeen
		}
		return
	}
	a.m[id] = len(a.rs)
	a.rs = append(a.rs, r)
}

// clean makes s text every store keeps: valid UTF-8 without NUL bytes.
// Header values are not guaranteed to be either.
func clean(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// drain swaps every counter of g to zero and adds what it held to acc,
// returning the total count drained.
func (g *generation) drain(acc *rollupAcc, now time.Time, svcs []*service) int64 {
	var total int64
	emit := func(kind, ws, svc, key string, n int64, last time.Time) {
		total += n
		acc.add(store.Rollup{Kind: kind, Workspace: ws, Service: svc, Key: key, Bucket: g.bucket, Count: n, LastSeen: last})
	}
	lastSeen := now.UTC()
	if !lastSeen.Before(g.end) {
		lastSeen = g.end.Add(-time.Nanosecond)
	}
	g.epMu.Lock()
	ecs := append([]*epCounters(nil), g.oldEps...)
	g.epMu.Unlock()
	for i := range g.eps {
		if ec := g.eps[i].Load(); ec != nil {
			ecs = append(ecs, ec)
		}
	}
	for _, ec := range ecs {
		ec.drain(emit, lastSeen)
	}

	d := &g.dims
	d.mu.Lock()
	keys := d.keys[:len(d.keys):len(d.keys)]
	d.mu.Unlock()
	for i, k := range keys {
		if int(k.svc) >= len(svcs) {
			// A service first seen after svcs was copied: its counts stay
			// in place for the next drain.
			continue
		}
		n := d.counts[i].Swap(0)
		if n == 0 {
			continue
		}
		last := time.Unix(0, d.last[i].Load()).UTC()
		sk := svcs[k.svc].key
		ws, svc := sk.ws, sk.name
		mode := modeLocal
		if k.ci {
			mode = modeCI
		}
		switch k.kind {
		case dimScenario:
			emit(KindScenario, ws, "", k.a, n, last)
		case dimPersona:
			emit(KindPersona, ws, "", tabless(k.a)+"\t"+mode, n, last)
		case dimPersonaRun:
			emit(KindPersonaRun, ws, "", tabless(k.a)+"\t"+tabless(k.b), n, last)
		case dimMissing:
			if k.a == OverflowKey {
				emit(KindMissing, ws, svc, OverflowKey+"\t"+mode, n, last)
			} else {
				emit(KindMissing, ws, svc, k.a+" "+k.b+"\t"+mode, n, last)
			}
		case dimUndeclared:
			if k.a == OverflowKey {
				emit(KindEndpoint, ws, svc, OverflowKey+"\tundeclared\t"+mode, n, last)
			} else {
				emit(KindEndpoint, ws, svc, k.a+" "+k.b+"\tundeclared:"+strconv.Itoa(int(k.n))+"\t"+mode, n, last)
			}
		case dimDrift:
			what := "compared"
			if k.n == 1 {
				what = "drifted"
			}
			op := k.a + " " + k.b
			if k.a == OverflowKey {
				op = OverflowKey
			}
			emit(KindDrift, ws, svc, op+"\toperation\t"+what, n, last)
		}
	}
	return total
}

// tabless replaces the tabs of a name that a key puts before others.
func tabless(s string) string { return strings.ReplaceAll(s, "\t", " ") }

func (ec *epCounters) drain(emit func(kind, ws, svc, key string, n int64, last time.Time), last time.Time) {
	ws, svc := ec.svc.key.ws, ec.svc.key.name
	modes := [2]string{modeCI, modeLocal}
	for m := range 2 {
		if n := ec.counts[m].Swap(0); n > 0 {
			emit(KindRequests, ws, svc, modes[m], n, last)
		}
	}
	comp := ec.comp
	if comp.spec == nil {
		return
	}
	for i := range comp.spec.ops {
		b := comp.base[i]
		op := comp.opKey[i]
		k := len(comp.respKey[i])
		for m := range 2 {
			if n := ec.counts[b+int32(m)].Swap(0); n > 0 {
				emit(KindEndpoint, ws, svc, op+"\toperation\t"+modes[m], n, last)
			}
			if n := ec.counts[b+2+int32(m)].Swap(0); n > 0 {
				emit(KindEndpoint, ws, svc, op+"\trequest_body\t"+modes[m], n, last)
			}
			for j := range k {
				if n := ec.counts[b+4+2*int32(j)+int32(m)].Swap(0); n > 0 {
					emit(KindEndpoint, ws, svc, op+"\t"+comp.respKey[i][j]+"\t"+modes[m], n, last)
				}
			}
		}
		cb := cmpBase(b, k)
		what := [2]string{"compared", "drifted"}
		for w := range 2 {
			if n := ec.counts[cb+int32(w)].Swap(0); n > 0 {
				emit(KindDrift, ws, svc, op+"\toperation\t"+what[w], n, last)
			}
			for j := range k {
				if n := ec.counts[cb+2+2*int32(j)+int32(w)].Swap(0); n > 0 {
					emit(KindDrift, ws, svc, op+"\t"+comp.respKey[i][j]+"\t"+what[w], n, last)
				}
			}
		}
	}
}
