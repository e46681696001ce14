package federation

import (
	"encoding/binary"
	"hash/fnv"
)

// The oracle recomputes a chaos decision the slow, obvious way, from the
// written rule rather than the router's code: FNV-1a (hash/fnv) over the
// little-endian fields, the splitmix64 finisher, a draw per fault
// compared with its probability; the delays apply, then the first
// terminal fault, each while the cap allows.

type oracleKey struct {
	header string
	seq    uint64
	byName bool
}

func oracleDraw(seed int64, service string, fault int, k oracleKey) float64 {
	h := fnv.New64a()
	put := func(v uint64) { h.Write(binary.LittleEndian.AppendUint64(nil, v)) }
	put(uint64(seed))
	put(uint64(len(service)))
	h.Write([]byte(service))
	put(uint64(fault))
	if k.byName {
		put(1)
		put(uint64(len(k.header)))
		h.Write([]byte(k.header))
	} else {
		put(0)
		put(k.seq)
	}
	z := h.Sum64()
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

func oracle(c *Chaos, service string, k oracleKey) ChaosFaults {
	type fault struct {
		set bool
		p   float64
	}
	var faults [7]fault // in drawing order: latency, bandwidth, abort, reset, empty, truncate, hang
	if c.Latency != nil {
		faults[0] = fault{true, c.Latency.P}
	}
	if c.Bandwidth != nil {
		faults[1] = fault{true, c.Bandwidth.P}
	}
	if c.Abort != nil {
		faults[2] = fault{true, c.Abort.P}
	}
	if c.Reset != nil {
		faults[3] = fault{true, c.Reset.P}
	}
	if c.Empty != nil {
		faults[4] = fault{true, c.Empty.P}
	}
	if c.Truncate != nil {
		faults[5] = fault{true, c.Truncate.P}
	}
	if c.Hang != nil {
		faults[6] = fault{true, c.Hang.P}
	}
	var out ChaosFaults
	applied, terminal := 0, false
	for i, f := range faults {
		if !f.set || oracleDraw(c.Seed, service, i, k) >= f.p {
			continue
		}
		if c.MaxActiveFaults > 0 && applied >= c.MaxActiveFaults {
			continue
		}
		if i >= 2 {
			if terminal {
				continue
			}
			terminal = true
		}
		applied++
		out |= 1 << i
	}
	return out
}
