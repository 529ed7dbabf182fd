package otlpwire_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// The oracle is a second, deliberately naive implementation of Scan's rules
// on top of protowire: recursive, allocating, table-driven. Fuzzing compares
// the two. It also rewrites the request with every message Scan treats as
// opaque (resources, scopes, item records, metric metadata) emptied, which
// lets the tests tell "Scan is too lax" from "the difference is inside a
// message Scan deliberately does not interpret".

// node is a message type in the oracle's schema.
type node int

const (
	nOpaque node = iota // framing checked, contents not interpreted, stripped
	nRequest
	nResource
	nScope
	nMetric
	nGauge
	nSum
	nHistogram
	nExpHistogram
	nSummary
	nItem   // a log record or span: opaque, counts one item
	nPoint  // a data point: opaque, counts one item
	nString // a string or bytes field: kept verbatim
	nVarint // a known varint field
)

// children maps (message, field) to the field's node for known fields.
func children(k otlpwire.Kind, n node) map[protowire.Number]node {
	switch n {
	case nRequest:
		return map[protowire.Number]node{1: nResource}
	case nResource:
		return map[protowire.Number]node{1: nOpaque, 2: nScope, 3: nString, 1000: nScope}
	case nScope:
		if k == otlpwire.Metrics {
			return map[protowire.Number]node{1: nOpaque, 2: nMetric, 3: nString}
		}
		return map[protowire.Number]node{1: nOpaque, 2: nItem, 3: nString}
	case nMetric:
		return map[protowire.Number]node{1: nString, 2: nString, 3: nString,
			5: nGauge, 7: nSum, 9: nHistogram, 10: nExpHistogram, 11: nSummary, 12: nOpaque}
	case nGauge, nSummary:
		return map[protowire.Number]node{1: nPoint}
	case nSum:
		return map[protowire.Number]node{1: nPoint, 2: nVarint, 3: nVarint}
	case nHistogram, nExpHistogram:
		return map[protowire.Number]node{1: nPoint, 2: nVarint}
	}
	return nil
}

var errOracle = errors.New("oracle: malformed")

// oracleResult is what the oracle finds in one message.
type oracleResult struct {
	items     int
	resources int
	stripped  []byte
}

// oracleScan walks b as a request of kind k.
func oracleScan(k otlpwire.Kind, b []byte) (oracleResult, error) {
	return oracleWalk(k, nRequest, b)
}

func oracleWalk(k otlpwire.Kind, n node, b []byte) (oracleResult, error) {
	var res oracleResult
	known := children(k, n)
	var scoped, old int
	hasScopes := false
	for len(b) > 0 {
		num, typ, tn := protowire.ConsumeTag(b)
		if tn < 0 {
			return res, fmt.Errorf("%w: tag: %v", errOracle, protowire.ParseError(tn))
		}
		if num > protowire.MaxValidNumber {
			return res, fmt.Errorf("%w: field number %d", errOracle, num)
		}
		if typ == protowire.StartGroupType || typ == protowire.EndGroupType {
			return res, fmt.Errorf("%w: group", errOracle)
		}
		vn := protowire.ConsumeFieldValue(num, typ, b[tn:])
		if vn < 0 {
			return res, fmt.Errorf("%w: value: %v", errOracle, protowire.ParseError(vn))
		}
		field := b[:tn+vn]
		b = b[tn+vn:]
		child, ok := known[num]
		if !ok || n == nOpaque || n == nItem || n == nPoint {
			// Unknown fields are kept; fields of opaque messages are only
			// framing-checked, and dropped by the caller's stripping.
			res.stripped = append(res.stripped, field...)
			continue
		}
		want := protowire.BytesType
		if child == nVarint {
			want = protowire.VarintType
		}
		if typ != want {
			return res, fmt.Errorf("%w: field %d has type %d", errOracle, num, typ)
		}
		if child == nVarint || child == nString {
			res.stripped = append(res.stripped, field...)
			continue
		}
		payload, _ := protowire.ConsumeBytes(field[tn:])
		sub, err := oracleWalk(k, child, payload)
		if err != nil {
			return res, err
		}
		if typ := valueHolder(k, n, num, child); typ != "" {
			if d := oracleDepth(typ, payload, 0); d > otlpwire.MaxValueDepth {
				return res, fmt.Errorf("%w: %s nests values %d deep", errOracle, typ, d)
			}
		}
		switch child {
		case nOpaque, nItem, nPoint:
			sub.stripped = nil // emptied: pdata sees an empty message
		}
		res.stripped = protowire.AppendTag(res.stripped, num, protowire.BytesType)
		res.stripped = protowire.AppendBytes(res.stripped, sub.stripped)
		switch {
		case n == nRequest:
			res.resources++
			res.items += sub.items
		case n == nResource && num == 2:
			scoped += sub.items
			hasScopes = true
		case n == nResource && num == 1000:
			old += sub.items
		case n == nMetric && child != nOpaque:
			res.items = sub.items // oneof: last occurrence wins
		case child == nItem || child == nPoint:
			res.items++
		default:
			res.items += sub.items
		}
	}
	if n == nResource {
		res.items = old
		if hasScopes {
			res.items = scoped
		}
	}
	return res, nil
}

// valueHolder names the message type of field num (of node child) in node
// n, if it is one of those whose AnyValues the depth rule covers.
func valueHolder(k otlpwire.Kind, n node, num protowire.Number, child node) string {
	switch {
	case child == nItem && k == otlpwire.Logs:
		return "LogRecord"
	case child == nItem && k == otlpwire.Traces:
		return "Span"
	case child == nPoint:
		return map[node]string{nGauge: "NumberDataPoint", nSum: "NumberDataPoint", nHistogram: "HistogramDataPoint",
			nExpHistogram: "ExponentialHistogramDataPoint", nSummary: "SummaryDataPoint"}[n]
	case n == nResource && num == 1:
		return "Resource"
	case n == nScope && num == 1:
		return "InstrumentationScope"
	case n == nMetric && num == 12:
		return "KeyValue"
	}
	return ""
}

// valueFields is the depth rule's schema, by message: the fields that lead
// to AnyValues (opentelemetry-proto field numbers).
var valueFields = map[string]map[protowire.Number]string{
	"LogRecord":                     {5: "AnyValue", 6: "KeyValue"},
	"Span":                          {9: "KeyValue", 11: "Event", 13: "Link"},
	"Event":                         {3: "KeyValue"},
	"Link":                          {4: "KeyValue"},
	"Resource":                      {1: "KeyValue"},
	"InstrumentationScope":          {3: "KeyValue"},
	"NumberDataPoint":               {7: "KeyValue", 5: "Exemplar"},
	"HistogramDataPoint":            {9: "KeyValue", 8: "Exemplar"},
	"ExponentialHistogramDataPoint": {1: "KeyValue", 11: "Exemplar"},
	"SummaryDataPoint":              {7: "KeyValue"},
	"Exemplar":                      {7: "KeyValue"},
	"KeyValue":                      {2: "AnyValue"},
	"AnyValue":                      {5: "ArrayValue", 6: "KeyValueList"},
	"ArrayValue":                    {1: "AnyValue"},
	"KeyValueList":                  {1: "KeyValue"},
}

// oracleDepth returns the deepest AnyValue level in message b of type typ,
// whose nearest enclosing AnyValue is at level: an AnyValue is one level
// below the one that holds it, and a KeyValue always has one (pdata gives
// it a value). Like pdata, it stops reading a message at its first framing
// error, and it recurses without any bound or shortcut.
func oracleDepth(typ string, b []byte, level int) int {
	deepest := level
	if typ == "KeyValue" {
		deepest = level + 1
	}
	for len(b) > 0 {
		num, wt, tn := protowire.ConsumeTag(b)
		if tn < 0 || num > protowire.MaxValidNumber || wt == protowire.StartGroupType || wt == protowire.EndGroupType {
			break
		}
		vn := protowire.ConsumeFieldValue(num, wt, b[tn:])
		if vn < 0 {
			break
		}
		field := b[tn : tn+vn]
		b = b[tn+vn:]
		child, ok := valueFields[typ][num]
		if !ok || wt != protowire.BytesType {
			continue
		}
		payload, _ := protowire.ConsumeBytes(field)
		l := level
		if child == "AnyValue" {
			l++
		}
		deepest = max(deepest, l, oracleDepth(child, payload, l))
	}
	return deepest
}

// pdataCount decodes b the way a pdata-based gRPC receiver does (the
// *otlp.ExportRequest types, which also migrate the deprecated
// instrumentation_library_* entries) and counts items and resources.
func pdataCount(k otlpwire.Kind, b []byte) (otlpwire.Stats, error) {
	switch k {
	case otlpwire.Logs:
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(b); err != nil {
			return otlpwire.Stats{}, err
		}
		return otlpwire.Stats{Items: req.Logs().LogRecordCount(), Resources: req.Logs().ResourceLogs().Len()}, nil
	case otlpwire.Metrics:
		req := pmetricotlp.NewExportRequest()
		if err := req.UnmarshalProto(b); err != nil {
			return otlpwire.Stats{}, err
		}
		return otlpwire.Stats{Items: req.Metrics().DataPointCount(), Resources: req.Metrics().ResourceMetrics().Len()}, nil
	case otlpwire.Traces:
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(b); err != nil {
			return otlpwire.Stats{}, err
		}
		return otlpwire.Stats{Items: req.Traces().SpanCount(), Resources: req.Traces().ResourceSpans().Len()}, nil
	}
	return otlpwire.Stats{}, fmt.Errorf("kind %v", k)
}

// checkAgainstOracles is the property every input must satisfy; the fuzz
// targets and the corruption tests share it.
//
//   - Scan never panics and accepts exactly what the oracle accepts, with
//     the same counts.
//   - What Scan accepts, pdata accepts once the opaque messages are emptied,
//     with the same counts: Scan is not laxer than pdata at any level it
//     walks.
//   - If pdata accepts the bytes as they are, it agrees on the counts. It
//     may reject them (a wrong wire type or bad framing deep inside a record,
//     an attribute, ...): Scan does not interpret those messages, by design.
//   - If Scan rejects what pdata accepts, the reason is one where Scan is
//     stricter on purpose (groups, overlong varints, invalid field numbers,
//     AnyValues nested deeper than MaxValueDepth).
func checkAgainstOracles(t *testing.T, k otlpwire.Kind, b []byte) (otlpwire.Stats, error) {
	t.Helper()
	st, err := otlpwire.Scan(k, b)
	ref, refErr := oracleScan(k, b)
	if (err == nil) != (refErr == nil) {
		t.Fatalf("%v: Scan err = %v, oracle err = %v\ninput %x", k, err, refErr, b)
	}
	if err != nil {
		if !errors.Is(err, otlpwire.ErrMalformed) {
			t.Fatalf("%v: error %v does not wrap ErrMalformed", k, err)
		}
		if _, perr := pdataCount(k, b); perr == nil && !stricterOnPurpose(err) {
			t.Fatalf("%v: Scan rejects what pdata accepts: %v\ninput %x", k, err, b)
		}
		return st, err
	}
	if want := (otlpwire.Stats{Items: ref.items, Resources: ref.resources}); st != want {
		t.Fatalf("%v: Scan = %+v, oracle = %+v\ninput %x", k, st, want, b)
	}
	ps, perr := pdataCount(k, ref.stripped)
	if perr != nil {
		t.Fatalf("%v: Scan accepted, pdata rejects the stripped request: %v\ninput %x\nstripped %x", k, perr, b, ref.stripped)
	}
	if ps != st {
		t.Fatalf("%v: Scan = %+v, pdata (stripped) = %+v\ninput %x", k, st, ps, b)
	}
	if ps, perr := pdataCount(k, b); perr == nil && ps != st {
		t.Fatalf("%v: Scan = %+v, pdata = %+v\ninput %x", k, st, ps, b)
	}
	return st, nil
}

// stricterOnPurpose reports whether err is one of the documented cases where
// Scan rejects bytes that pdata's decoder tolerates.
func stricterOnPurpose(err error) bool {
	s := err.Error()
	for _, why := range []string{"group wire type", "varint overflows 64 bits", "invalid field number", "nested more than"} {
		if strings.Contains(s, why) {
			return true
		}
	}
	return false
}
