package attribute

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// The pdata path: the same actions on pdata's model, for payloads that
// are not OTLP bytes (decoded, or OTAP converted to pdata). The caller
// passes a mutable copy.

// pdataValue returns v as a pcommon.Value (v is a literal: a scalar).
func pdataValue(v otlpwire.Value) pcommon.Value {
	switch v.Type {
	case otlpwire.ValueStr:
		return pcommon.NewValueStr(string(v.Bytes))
	case otlpwire.ValueInt:
		return pcommon.NewValueInt(int64(v.Num))
	case otlpwire.ValueDouble:
		return pcommon.NewValueDouble(math.Float64frombits(v.Num))
	case otlpwire.ValueBool:
		return pcommon.NewValueBool(v.Num != 0)
	}
	return pcommon.NewValueEmpty()
}

// editLogs applies the actions to the attribute lists of ld in domains d.
func (e *editor) editLogs(ld plog.Logs, d otlpwire.Domains) {
	for _, rl := range ld.ResourceLogs().All() {
		if d&otlpwire.ResourceAttrs != 0 {
			e.editMap(rl.Resource().Attributes(), domResource)
		}
		for _, sl := range rl.ScopeLogs().All() {
			if d&otlpwire.ScopeAttrs != 0 {
				e.editMap(sl.Scope().Attributes(), domScope)
			}
			if d&otlpwire.ItemAttrs == 0 {
				continue
			}
			for _, lr := range sl.LogRecords().All() {
				e.editMap(lr.Attributes(), domSignal)
			}
		}
	}
}

// editTraces applies the actions to the attribute lists of td in domains
// d: spans, span events and span links for the signal domain.
func (e *editor) editTraces(td ptrace.Traces, d otlpwire.Domains) {
	for _, rs := range td.ResourceSpans().All() {
		if d&otlpwire.ResourceAttrs != 0 {
			e.editMap(rs.Resource().Attributes(), domResource)
		}
		for _, ss := range rs.ScopeSpans().All() {
			if d&otlpwire.ScopeAttrs != 0 {
				e.editMap(ss.Scope().Attributes(), domScope)
			}
			if d&otlpwire.ItemAttrs == 0 {
				continue
			}
			for _, sp := range ss.Spans().All() {
				e.editMap(sp.Attributes(), domSignal)
				for _, ev := range sp.Events().All() {
					e.editMap(ev.Attributes(), domSignal)
				}
				for _, l := range sp.Links().All() {
					e.editMap(l.Attributes(), domSignal)
				}
			}
		}
	}
}

// editMetrics applies the actions to the attribute lists of md in domains
// d: metric metadata, data points and exemplars for the signal domain.
func (e *editor) editMetrics(md pmetric.Metrics, d otlpwire.Domains) {
	for _, rm := range md.ResourceMetrics().All() {
		if d&otlpwire.ResourceAttrs != 0 {
			e.editMap(rm.Resource().Attributes(), domResource)
		}
		for _, sm := range rm.ScopeMetrics().All() {
			if d&otlpwire.ScopeAttrs != 0 {
				e.editMap(sm.Scope().Attributes(), domScope)
			}
			if d&otlpwire.ItemAttrs == 0 {
				continue
			}
			for _, m := range sm.Metrics().All() {
				e.editMetric(m)
			}
		}
	}
}

func (e *editor) editMetric(m pmetric.Metric) {
	e.editMap(m.Metadata(), domSignal)
	exemplars := func(xs pmetric.ExemplarSlice) {
		for _, x := range xs.All() {
			e.editMap(x.FilteredAttributes(), domSignal)
		}
	}
	number := func(ps pmetric.NumberDataPointSlice) {
		for _, p := range ps.All() {
			e.editMap(p.Attributes(), domSignal)
			exemplars(p.Exemplars())
		}
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		number(m.Gauge().DataPoints())
	case pmetric.MetricTypeSum:
		number(m.Sum().DataPoints())
	case pmetric.MetricTypeHistogram:
		for _, p := range m.Histogram().DataPoints().All() {
			e.editMap(p.Attributes(), domSignal)
			exemplars(p.Exemplars())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, p := range m.ExponentialHistogram().DataPoints().All() {
			e.editMap(p.Attributes(), domSignal)
			exemplars(p.Exemplars())
		}
	case pmetric.MetricTypeSummary:
		for _, p := range m.Summary().DataPoints().All() {
			e.editMap(p.Attributes(), domSignal)
		}
	}
}

// editMap applies the actions to one attribute list (see editor for the
// rules).
func (e *editor) editMap(m pcommon.Map, d int) {
	for i := range e.actions {
		act := &e.actions[i]
		var n uint64
		switch act.kind {
		case actDelete:
			if _, ok := m.Get(act.key); ok {
				m.RemoveIf(func(k string, _ pcommon.Value) bool {
					if k == act.key {
						n++
						return true
					}
					return false
				})
			}
		case actRename:
			v, ok := m.Get(act.key)
			if !ok {
				break
			}
			moved := pcommon.NewValueEmpty()
			v.CopyTo(moved)
			m.RemoveIf(func(k string, _ pcommon.Value) bool { return k == act.key || k == act.newKey })
			moved.MoveTo(m.PutEmpty(act.newKey))
			n++
		case actInsert:
			if _, ok := m.Get(act.key); ok {
				break
			}
			if v, ok := e.pvalue(m, act); ok {
				v.CopyTo(m.PutEmpty(act.key))
				n++
			}
		case actUpsert:
			if v, ok := e.pvalue(m, act); ok {
				v.CopyTo(m.PutEmpty(act.key))
				n++
			}
		case actUpdate:
			v, ok := e.pvalue(m, act)
			if !ok {
				break
			}
			if dst, ok := m.Get(act.key); ok {
				v.CopyTo(dst)
				n++
			}
		case actHash:
			v, ok := m.Get(act.key)
			if !ok {
				break
			}
			if sum, ok := e.pdataHash(act.salt, v); ok {
				v.SetStr(sum)
				n++
			}
		}
		e.counts[act.kind][d] += n
	}
}

// pvalue returns the value an insert, upsert or update sets: its literal,
// or a copy of its from_attribute's value, if present (a copy, because
// adding to m may move the entries Get points into).
func (e *editor) pvalue(m pcommon.Map, act *action) (pcommon.Value, bool) {
	if act.from == "" {
		return act.pvalue, true
	}
	src, ok := m.Get(act.from)
	if !ok {
		return pcommon.Value{}, false
	}
	v := pcommon.NewValueEmpty()
	src.CopyTo(v)
	return v, true
}

// pdataHash returns the hex SHA-256 of salt || v, for a scalar v.
func (e *editor) pdataHash(salt []byte, v pcommon.Value) (string, bool) {
	in := append(e.hashIn[:0], salt...)
	switch v.Type() {
	case pcommon.ValueTypeStr:
		in = append(in, v.Str()...)
	case pcommon.ValueTypeBytes:
		in = append(in, v.Bytes().AsRaw()...)
	case pcommon.ValueTypeBool:
		var c byte
		if v.Bool() {
			c = 1
		}
		in = append(in, c)
	case pcommon.ValueTypeInt:
		in = binary.LittleEndian.AppendUint64(in, uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		in = binary.LittleEndian.AppendUint64(in, math.Float64bits(v.Double()))
	default:
		return "", false
	}
	e.hashIn = in
	sum := sha256.Sum256(in)
	return hex.EncodeToString(sum[:]), true
}
