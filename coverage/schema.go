package coverage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mockops/mockops/events"
)

// ContractHash identifies what a spec declares for coverage: every
// operation (method, path template, operationId, deprecation, request
// body and whether it is required, declared responses). Two documents
// that differ only in what the collector does not compile (descriptions,
// schemas of bodies) have the same hash. It is "sha256:" and hex.
func ContractHash(s *Spec) string {
	h := sha256.New()
	for i := range s.ops {
		h.Write([]byte(opFingerprint(&s.ops[i])))
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// opFingerprint is the part of an operation ContractHash covers, in a
// form a change summary can compare.
func opFingerprint(o *Operation) string {
	var b strings.Builder
	b.WriteString(o.Method)
	b.WriteByte(' ')
	b.WriteString(o.Path)
	b.WriteString("\x00")
	b.WriteString(o.OperationID)
	fmt.Fprintf(&b, "\x00%t\x00%t\x00%t", o.Deprecated, o.RequestBody, o.RequestBodyRequired)
	for _, r := range o.Responses {
		b.WriteByte('\x00')
		b.WriteString(r.Key)
	}
	return b.String()
}

// SchemaDiff summarises how a contract changed, operation by operation.
type SchemaDiff struct {
	Added   []string // "GET /pets"
	Removed []string
	// Changed lines read "GET /pets/{id}: response 404 removed".
	Changed []string
	// Breaking reports a change a client built on the old contract can
	// trip on: an operation or a declared response removed, a request
	// body that became required.
	Breaking bool
}

// Lines renders the diff one change per line, as schema.changed carries it.
func (d SchemaDiff) Lines() []string {
	var out []string
	for _, a := range d.Added {
		out = append(out, "added "+a)
	}
	for _, r := range d.Removed {
		out = append(out, "removed "+r)
	}
	for _, c := range d.Changed {
		out = append(out, "changed "+c)
	}
	return out
}

// DiffSpecs compares two specs' operations. Either may be nil (nothing).
func DiffSpecs(old, new *Spec) SchemaDiff {
	index := func(s *Spec) map[string]*Operation {
		m := map[string]*Operation{}
		if s != nil {
			for i := range s.ops {
				o := &s.ops[i]
				m[o.Method+" "+o.Path] = o
			}
		}
		return m
	}
	om, nm := index(old), index(new)
	var d SchemaDiff
	for k, no := range nm {
		oo, ok := om[k]
		if !ok {
			d.Added = append(d.Added, k)
			continue
		}
		if opFingerprint(oo) == opFingerprint(no) {
			continue
		}
		var what []string
		if oo.OperationID != no.OperationID {
			what = append(what, fmt.Sprintf("operationId %q -> %q", oo.OperationID, no.OperationID))
		}
		if oo.Deprecated != no.Deprecated {
			what = append(what, "deprecated "+strconv.FormatBool(no.Deprecated))
		}
		if oo.RequestBody != no.RequestBody || oo.RequestBodyRequired != no.RequestBodyRequired {
			what = append(what, fmt.Sprintf("request body %s -> %s", bodyState(oo), bodyState(no)))
			if no.RequestBodyRequired && !oo.RequestBodyRequired {
				d.Breaking = true
			}
		}
		keys := func(o *Operation) []string {
			ks := make([]string, len(o.Responses))
			for i, r := range o.Responses {
				ks[i] = r.Key
			}
			return ks
		}
		ok2, nk := keys(oo), keys(no)
		for _, k := range nk {
			if !slices.Contains(ok2, k) {
				what = append(what, "response "+k+" added")
			}
		}
		for _, k := range ok2 {
			if !slices.Contains(nk, k) {
				what = append(what, "response "+k+" removed")
				d.Breaking = true
			}
		}
		d.Changed = append(d.Changed, k+": "+strings.Join(what, ", "))
	}
	for k := range om {
		if _, ok := nm[k]; !ok {
			d.Removed = append(d.Removed, k)
			d.Breaking = true
		}
	}
	slices.Sort(d.Added)
	slices.Sort(d.Removed)
	slices.Sort(d.Changed)
	return d
}

func bodyState(o *Operation) string {
	switch {
	case o.RequestBodyRequired:
		return "required"
	case o.RequestBody:
		return "optional"
	}
	return "none"
}

// SetSpec sets or replaces the spec of a service at run time: requests
// are matched against it from the next one on, and it is recorded as a
// refresh of the service's mocks from its upstream contract (staleness).
// When the contract hash differs from the one stored for the service
// (by this collector or a replica), schema.changed is published once,
// by whichever replica stored the change.
func (c *Collector) SetSpec(ctx context.Context, service string, s *Spec) error {
	if s == nil {
		return fmt.Errorf("coverage: set spec of %q: nil spec", service)
	}
	comp := compile(s)
	c.svcMu.Lock()
	c.specs[service] = comp
	for _, sv := range c.svcList {
		if sv.key.name == service && sv != c.overflow {
			sv.comp.Store(comp)
		}
	}
	c.svcMu.Unlock()
	return c.contractChanged(ctx, service, comp.hash, s, true)
}

// Verify records a verification of a service's mocks against its real
// upstream: the upstream's contract hash as found now, and its spec when
// known (to summarise a change; nil otherwise). hash "" means
// ContractHash(upstream). The hash is compared with ContractHash of the
// spec the mocks were set from (SetSpec): when they differ the service
// is stale_by_content. A hash that differs from the last verified one
// publishes schema.changed once across replicas.
func (c *Collector) Verify(ctx context.Context, service, hash string, upstream *Spec) error {
	if hash == "" {
		if upstream == nil {
			return fmt.Errorf("coverage: verify %q: neither a hash nor a spec", service)
		}
		hash = ContractHash(upstream)
	}
	return c.contractChanged(ctx, service, hash, upstream, false)
}

// contractChanged stores the new contract state and, if this call changed
// the upstream hash, publishes schema.changed.
func (c *Collector) contractChanged(ctx context.Context, service, hash string, spec *Spec, refresh bool) error {
	now := c.now().UTC()
	c.contractMu.Lock()
	known := ""
	if old := c.contracts[service]; old != nil {
		known = ContractHash(old) // a spec from Config, never stored yet
	}
	c.contractMu.Unlock()
	prev, changed, err := c.updateContract(ctx, service, known, func(st *contractState) {
		if refresh {
			st.MockHash = hash
			st.RefreshedAt = &now
		} else {
			st.VerifiedAt = &now
		}
		st.UpstreamHash = hash
	})
	if err != nil {
		return err
	}
	c.contractMu.Lock()
	old := c.contracts[service]
	if spec != nil {
		c.contracts[service] = spec
	}
	c.contractMu.Unlock()
	if !changed || c.pub == nil {
		return nil
	}
	payload := events.SchemaChange{SchemaType: "openapi", Path: service}
	if old != nil && spec != nil && ContractHash(old) == prev {
		d := DiffSpecs(old, spec)
		payload.Changes, payload.Breaking = d.Lines(), d.Breaking
	} else {
		// The previous spec is not known here (set on another replica, or
		// only a hash was verified): the summary says what is known.
		payload.Changes = []string{fmt.Sprintf("contract hash %s -> %s", prev, hash)}
	}
	ev, err := events.SchemaChanged(c.workspaceOf(service), payload)
	if err != nil {
		return fmt.Errorf("coverage: schema change of %q: %w", service, err)
	}
	if err := c.pub.Publish(ctx, ev); err != nil {
		return fmt.Errorf("coverage: publish schema change of %q: %w", service, err)
	}
	return nil
}

// workspaceOf names the workspace of a service for events about it.
func (c *Collector) workspaceOf(service string) string {
	if ws, ok := c.cfg.Workspaces[service]; ok {
		return ws
	}
	c.svcMu.Lock()
	defer c.svcMu.Unlock()
	for _, s := range c.svcList {
		if s.key.name == service && s != c.overflow {
			return s.key.ws
		}
	}
	return c.cfg.Workspace
}
