package federation

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mockops/mockops/internal/yamlpos"
)

// The blend and chaos blocks are decoded and validated now so that a
// definition written today keeps working when their behaviour lands.

var (
	blendKeys = []string{"strategy", "fallback_status", "prefer", "ignore", "sample", "ratio", "miss_header", "miss_status", "max_body", "merge_methods", "primary", "compare_sample"}
	chaosKeys = []string{
		"base", "seed", "key_header", "header_faults", "max_active_faults",
		"latency", "abort", "reset", "empty", "truncate", "bandwidth", "hang",
	}
	// faultKeys are the keys of each fault mapping under chaos.
	faultKeys = map[string][]string{
		"latency":   {"p", "fixed", "uniform", "lognormal"},
		"abort":     {"p", "status", "retry_after"},
		"reset":     {"p"},
		"empty":     {"p"},
		"truncate":  {"p", "after"},
		"bandwidth": {"p", "bytes_per_second"},
		"hang":      {"p", "duration"},
	}
	lognormalKeys = []string{"median", "sigma"}
)

func (d *decoder) blend(n *yaml.Node) *Blend {
	b := &Blend{}
	b.at.self = d.at(n)
	for _, fd := range yamlpos.Fields(d.file, n, blendKeys, &d.errs.list) {
		b.at.set(fd.Key, d.at(fd.Value))
		ok := true
		switch fd.Key {
		case "strategy":
			b.Strategy, ok = d.str(fd.Value)
		case "prefer":
			b.Prefer, ok = d.str(fd.Value)
		case "ignore":
			b.Ignore, _, ok = d.strs(fd.Value)
		case "fallback_status":
			b.FallbackStatus = d.statuses(b, fd)
		case "miss_status":
			b.MissStatus = d.statuses(b, fd)
		case "miss_header":
			b.MissHeader, ok = d.str(fd.Value)
		case "compare_sample":
			var v float64
			if v, ok = d.number(fd.Value); ok {
				b.CompareSample = &v
			}
		case "primary":
			b.Primary, ok = d.str(fd.Value)
		case "merge_methods":
			b.MergeMethods, _, ok = d.strs(fd.Value)
		case "max_body":
			b.MaxBody, ok = d.integer(fd.Value)
		case "sample":
			var v float64
			if v, ok = d.number(fd.Value); ok {
				b.Sample = &v
			}
		case "ratio":
			var v float64
			if v, ok = d.number(fd.Value); ok {
				b.Ratio = &v
			}
		}
		if !ok {
			b.at.fail(fd.Key)
		}
	}
	return b
}

// statuses decodes a list of HTTP statuses, keeping each item's position.
func (d *decoder) statuses(b *Blend, fd yamlpos.Field) []int {
	var out []int
	for i, item := range d.list(fd.Value) {
		if v, good := d.integer(item); good {
			out = append(out, int(v))
			b.at.set(indexKey(fd.Key, i), d.at(item))
		}
	}
	return out
}

func (d *decoder) chaos(n *yaml.Node) *Chaos {
	c := &Chaos{}
	c.at.self = d.at(n)
	for _, fd := range yamlpos.Fields(d.file, n, chaosKeys, &d.errs.list) {
		c.at.set(fd.Key, d.at(fd.Value))
		ok := true
		switch fd.Key {
		case "base":
			c.Base, ok = d.str(fd.Value)
		case "seed":
			c.Seed, ok = d.integer(fd.Value)
		case "key_header":
			c.KeyHeader, ok = d.str(fd.Value)
		case "header_faults":
			c.HeaderFaults, ok = d.boolean(fd.Value)
		case "max_active_faults":
			var v int64
			v, ok = d.integer(fd.Value)
			c.MaxActiveFaults = int(v)
		case "latency":
			c.Latency = &LatencyFault{}
			d.fault(c, fd, faultKeys["latency"], &c.Latency.P, func(k string, v *yaml.Node) bool {
				return d.latency(c, c.Latency, k, v)
			})
		case "abort":
			c.Abort = &AbortFault{}
			d.fault(c, fd, faultKeys["abort"], &c.Abort.P, func(k string, v *yaml.Node) bool {
				if k == "retry_after" {
					var ok bool
					c.Abort.RetryAfter, ok = d.duration(v, "chaos abort.retry_after")
					return ok
				}
				s, ok := d.integer(v)
				c.Abort.Status = int(s)
				return ok
			})
		case "reset":
			c.Reset = &Fault{}
			d.fault(c, fd, faultKeys["reset"], &c.Reset.P, nil)
		case "empty":
			c.Empty = &Fault{}
			d.fault(c, fd, faultKeys["empty"], &c.Empty.P, nil)
		case "truncate":
			c.Truncate = &TruncateFault{}
			d.fault(c, fd, faultKeys["truncate"], &c.Truncate.P, func(_ string, v *yaml.Node) bool {
				var ok bool
				c.Truncate.After, ok = d.integer(v)
				return ok
			})
		case "bandwidth":
			c.Bandwidth = &BandwidthFault{}
			d.fault(c, fd, faultKeys["bandwidth"], &c.Bandwidth.P, func(_ string, v *yaml.Node) bool {
				var ok bool
				c.Bandwidth.BytesPerSecond, ok = d.integer(v)
				return ok
			})
		case "hang":
			c.Hang = &HangFault{}
			d.fault(c, fd, faultKeys["hang"], &c.Hang.P, func(_ string, v *yaml.Node) bool {
				var ok bool
				c.Hang.Duration, ok = d.duration(v, "chaos hang.duration")
				return ok
			})
		}
		if !ok {
			c.at.fail(fd.Key)
		}
	}
	return c
}

// fault decodes one fault mapping: p is required and read into *p; the
// other keys go to other. Positions are recorded as "<fault>.<key>".
func (d *decoder) fault(c *Chaos, fd yamlpos.Field, keys []string, p *float64, other func(key string, v *yaml.Node) bool) {
	sawP := false
	for _, f := range yamlpos.Fields(d.file, fd.Value, keys, &d.errs.list) {
		key := fd.Key + "." + f.Key
		c.at.set(key, d.at(f.Value))
		ok := true
		if f.Key == "p" {
			sawP = true
			*p, ok = d.number(f.Value)
		} else {
			ok = other(f.Key, f.Value)
		}
		if !ok {
			c.at.fail(key)
		}
	}
	if !sawP && yamlpos.Resolve(fd.Value).Kind == yaml.MappingNode {
		d.errs.list.Add(d.at(fd.Value), "chaos %s: missing required key \"p\" (its probability, 0..1)", fd.Key)
	}
}

func (d *decoder) latency(c *Chaos, l *LatencyFault, key string, v *yaml.Node) bool {
	switch key {
	case "fixed":
		var ok bool
		l.Fixed, ok = d.duration(v, "chaos latency.fixed")
		return ok
	case "uniform":
		items := d.list(v)
		if items == nil {
			return false
		}
		if len(items) != 2 {
			d.errs.list.Add(d.at(v), "latency uniform needs two durations [min, max], got %d", len(items))
			return false
		}
		lo, ok1 := d.duration(items[0], "chaos latency.uniform[0]")
		hi, ok2 := d.duration(items[1], "chaos latency.uniform[1]")
		l.Uniform = [2]time.Duration{lo, hi}
		return ok1 && ok2
	case "lognormal":
		l.Lognormal = &Lognormal{}
		ok := true
		for _, f := range yamlpos.Fields(d.file, v, lognormalKeys, &d.errs.list) {
			c.at.set("latency.lognormal."+f.Key, d.at(f.Value))
			var good bool
			switch f.Key {
			case "median":
				l.Lognormal.Median, good = d.duration(f.Value, "chaos latency.lognormal.median")
			case "sigma":
				l.Lognormal.Sigma, good = d.number(f.Value)
			}
			ok = ok && good
		}
		return ok
	}
	return true
}
