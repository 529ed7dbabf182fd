package otlp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// OTLP/JSON bodies are the one input the receiver decodes, with pdata's
// JSON unmarshaller (json-iterator underneath). That decoder recurses once
// per nesting level without any bound, keeps only the first of several
// concatenated documents, passes invalid UTF-8 through, and turns a few
// bytes of input into hundreds of bytes of objects (`{}` is a whole log
// record). So before decoding, one cheap pass over the bytes (prescanJSON)
// checks what the decoder does not: UTF-8, nesting, one document and
// nothing after it, and the size the decoded form will take. After
// decoding, the AnyValues are held to otlpwire.MaxValueDepth, the rule
// protobuf requests follow (checkValueDepth).

// Limits of JSON requests.
const (
	// maxRequestItems bounds the items (log records, spans, data points)
	// of one request, protobuf or JSON: a node that decodes a request
	// allocates per item, so a small request of empty records (a 64 MiB
	// protobuf holds ~33 M) would cost gigabytes there. For JSON, with the
	// default max_request_size, the decoded-size bound below refuses far
	// fewer (about 260,000 records of `{}`); this one holds when
	// max_request_size is raised.
	maxRequestItems = 1 << 20

	// jsonEnvelopeDepth is the deepest JSON level at which a level-1
	// AnyValue sits: an exemplar's filtered attribute (request,
	// resourceMetrics, its element, scopeMetrics, element, metrics,
	// element, histogram, dataPoints, element, exemplars, element,
	// filteredAttributes, element, value).
	jsonEnvelopeDepth = 15
	// jsonLevelsPerValue is how many JSON levels one more AnyValue level
	// takes at most: kvlistValue, values, the element, value.
	jsonLevelsPerValue = 4
	// maxJSONDepth bounds the nesting of objects and arrays in a JSON
	// body: deep enough for every request whose AnyValues stay within
	// otlpwire.MaxValueDepth, with room for one level more (plus the empty
	// container a last value may hold) so that the walk after decoding
	// names the value that is one too deep; shallow enough that the
	// decoder's recursion is harmless.
	maxJSONDepth = jsonEnvelopeDepth + jsonLevelsPerValue*otlpwire.MaxValueDepth + 2

	// Decoded-size estimate (measured with pdata v1.70.0, live heap after
	// decoding): an object in a resource, scope, item, metric, event,
	// link, exemplar or entity ref array costs up to ~220 bytes (an empty
	// span), any
	// other object (a KeyValue, an AnyValue, ...) up to ~60, a scalar in
	// an array (bucket counts, bounds) 8 bytes plus slice growth, and
	// strings are copied out of the body.
	jsonRecordCost  = 256
	jsonObjectCost  = 64
	jsonElementCost = 16
)

// Errors of decodeJSON. Both wrap errJSON, so every failure says what it is.
var (
	errJSON = errors.New("invalid OTLP/JSON request")
	// errJSONTooLarge is a request whose decoded form would exceed
	// max_request_size or maxRequestItems: answered 413, not 400.
	errJSONTooLarge = fmt.Errorf("%w: too large", errJSON)
)

// jsonShape is what prescanJSON learns about a body without decoding it.
type jsonShape struct {
	items   int // elements of logRecords, spans and dataPoints arrays
	objects int // objects of any kind
	decoded int // estimated bytes of the decoded pdata
}

// jsonDecodedSize returns the estimated memory, in bytes, that decoding
// the JSON body would take (what max_request_size bounds, and what a byte
// budget should charge for a JSON request). It is one pass over the bytes,
// the one decodeJSON makes first; an error means the body would be
// refused.
func jsonDecodedSize(body []byte) (int, error) {
	sh, err := prescanJSON(body)
	return sh.decoded, err
}

// decodeJSON decodes an OTLP/JSON body of signal s into a payload. It
// refuses, before decoding, a body that is not UTF-8, nests deeper than
// maxJSONDepth, holds anything but whitespace after its one document, or
// would decode into more than limit bytes or maxRequestItems items
// (errJSONTooLarge); and after decoding, AnyValues nested deeper than
// otlpwire.MaxValueDepth. Every error wraps errJSON and says where.
func decodeJSON(s pdata.Signal, body []byte, limit int) (*pdata.Payload, error) {
	sh, err := prescanJSON(body)
	if err != nil {
		return nil, err
	}
	if sh.decoded > limit {
		return nil, fmt.Errorf("%w: %d bytes of JSON with %d objects would take about %d bytes decoded, more than max_request_size (%d); send smaller batches",
			errJSONTooLarge, len(body), sh.objects, sh.decoded, limit)
	}
	if sh.items > maxRequestItems {
		return nil, fmt.Errorf("%w: %d items, more than the %d one JSON request may carry; send smaller batches",
			errJSONTooLarge, sh.items, maxRequestItems)
	}
	var p *pdata.Payload
	switch s {
	case pdata.Logs:
		r := plogotlp.NewExportRequest()
		if err := r.UnmarshalJSON(body); err != nil {
			return nil, fmt.Errorf("%w: logs: %w", errJSON, err)
		}
		err, p = logsTooDeep(r.Logs()), pdata.FromLogs(r.Logs())
	case pdata.Metrics:
		r := pmetricotlp.NewExportRequest()
		if err := r.UnmarshalJSON(body); err != nil {
			return nil, fmt.Errorf("%w: metrics: %w", errJSON, err)
		}
		err, p = metricsTooDeep(r.Metrics()), pdata.FromMetrics(r.Metrics())
	default:
		r := ptraceotlp.NewExportRequest()
		if err := r.UnmarshalJSON(body); err != nil {
			return nil, fmt.Errorf("%w: traces: %w", errJSON, err)
		}
		err, p = tracesTooDeep(r.Traces()), pdata.FromTraces(r.Traces())
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Array classes, from the key of the array in its object: what an object
// element costs decoded, and whether it is an item.
const (
	arrayPlain  = iota // attributes, values, buckets...
	arrayRecord        // resources, scopes, metrics, events, links, exemplars
	arrayItem          // log records, spans, data points
)

// arrayClass classifies an array by its key as written (pdata accepts the
// camelCase and snake_case names). A key with an escape could spell any of
// them once decoded, so it counts as the costliest class.
func arrayClass(key []byte) uint8 {
	switch string(key) {
	case "logRecords", "log_records", "spans", "dataPoints", "data_points":
		return arrayItem
	case "resourceLogs", "resource_logs", "resourceSpans", "resource_spans", "resourceMetrics", "resource_metrics",
		"scopeLogs", "scope_logs", "scopeSpans", "scope_spans", "scopeMetrics", "scope_metrics",
		"metrics", "events", "links", "exemplars", "entityRefs", "entity_refs":
		return arrayRecord
	}
	if bytes.IndexByte(key, '\\') >= 0 {
		return arrayItem
	}
	return arrayPlain
}

// prescanJSON makes one pass over a JSON body without decoding it: it
// checks that the body is UTF-8 and exactly one JSON document (RFC 8259:
// json-iterator, under pdata, accepts truncated documents and ignores what
// follows the first), nested at most maxJSONDepth levels, and measures its
// shape. It costs a fraction of the decode (it allocates nothing, and runs
// at several hundred MB/s).
func prescanJSON(b []byte) (jsonShape, error) {
	var sh jsonShape
	if !utf8.Valid(b) {
		return sh, fmt.Errorf("%w: not valid UTF-8 at byte %d (JSON text must be UTF-8)", errJSON, invalidUTF8(b))
	}
	sh.decoded = len(b) // strings are copied out of the body
	// stack holds the open containers: '{' or '[' with, for arrays, the
	// class of their elements.
	type frame struct{ kind, class byte }
	var stack [maxJSONDepth]frame
	depth := 0
	var key []byte // the key of the member being read
	// What may come next.
	const (
		wantValue        = iota
		wantValueOrClose // after '['
		wantKeyOrClose   // after '{'
		wantKey          // after ',' in an object
		wantColon
		wantCommaOrClose // after a value in a container
		wantEnd          // after the document
	)
	want := wantValue
	for i := 0; i < len(b); {
		c := b[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			i++
			continue
		}
		switch want {
		case wantEnd:
			return sh, fmt.Errorf("%w: unexpected %s after the JSON document at byte %d: a request is exactly one JSON object",
				errJSON, quoteStart(b[i:]), i)
		case wantColon:
			if c != ':' {
				return sh, syntaxErr(b, i, "':' after an object key")
			}
			want = wantValue
			i++
			continue
		case wantCommaOrClose:
			top := stack[depth-1].kind
			switch {
			case c == ',' && top == '{':
				want = wantKey
			case c == ',':
				want = wantValue
			case c == '}' && top == '{', c == ']' && top == '[':
				depth--
				want = wantCommaOrClose
				if depth == 0 {
					want = wantEnd
				}
			default:
				return sh, syntaxErr(b, i, fmt.Sprintf("',' or '%c'", top+2)) // '{'+2 is '}', '['+2 is ']'
			}
			i++
			continue
		case wantKey, wantKeyOrClose:
			switch {
			case c == '"':
				end, err := stringEnd(b, i)
				if err != nil {
					return sh, err
				}
				key, want, i = b[i+1:end-1], wantColon, end
			case c == '}' && want == wantKeyOrClose:
				depth--
				want, i = wantCommaOrClose, i+1
				if depth == 0 {
					want = wantEnd
				}
			default:
				return sh, syntaxErr(b, i, "a string key")
			}
			continue
		}
		// A value (wantValue, wantValueOrClose).
		if c == ']' && want == wantValueOrClose {
			depth--
			want, i = wantCommaOrClose, i+1
			if depth == 0 {
				want = wantEnd
			}
			continue
		}
		inArray := depth > 0 && stack[depth-1].kind == '['
		switch c {
		case '{', '[':
			if depth == maxJSONDepth {
				return sh, fmt.Errorf("%w: nested more than %d levels deep at byte %d (AnyValues may nest at most %d levels)",
					errJSON, maxJSONDepth, i, otlpwire.MaxValueDepth)
			}
			class := byte(arrayPlain)
			if c == '{' {
				sh.objects++
				cost := jsonObjectCost
				if inArray {
					switch stack[depth-1].class {
					case arrayItem:
						sh.items++
						cost = jsonRecordCost
					case arrayRecord:
						cost = jsonRecordCost
					}
				}
				sh.decoded += cost
				want = wantKeyOrClose
			} else {
				if inArray {
					sh.decoded += jsonElementCost
				} else if depth > 0 {
					class = arrayClass(key)
				}
				want = wantValueOrClose
			}
			stack[depth] = frame{c, class}
			depth++
			i++
			continue
		case '"':
			end, err := stringEnd(b, i)
			if err != nil {
				return sh, err
			}
			i = end
		default:
			end := literalEnd(b, i)
			if end < 0 {
				return sh, syntaxErr(b, i, "a value")
			}
			i = end
		}
		if inArray {
			sh.decoded += jsonElementCost
		}
		want = wantCommaOrClose
		if depth == 0 {
			want = wantEnd
		}
	}
	switch want {
	case wantEnd:
		return sh, nil
	case wantValue:
		if depth == 0 {
			return sh, fmt.Errorf("%w: empty body: a request is one JSON object", errJSON)
		}
	}
	return sh, fmt.Errorf("%w: invalid JSON: the document ends early, at byte %d (truncated?)", errJSON, len(b))
}

// syntaxErr is the error for b[i], which is not what was expected.
func syntaxErr(b []byte, i int, expected string) error {
	return fmt.Errorf("%w: invalid JSON at byte %d: expected %s, found %s", errJSON, i, expected, quoteStart(b[i:]))
}

// stringEnd returns the position after the JSON string whose opening
// quote is at b[i], checking its escapes and that it holds no control
// character.
func stringEnd(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		for j < len(b) && plainInString[b[j]] {
			j++
		}
		if j == len(b) {
			break
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, nil
		case c < 0x20:
			return 0, fmt.Errorf("%w: invalid JSON at byte %d: control character %#x in a string (escape it)", errJSON, j, c)
		case c == '\\':
			j++
			if j == len(b) {
				break
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) || !isHex(b[j+1]) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) {
					return 0, fmt.Errorf("%w: invalid JSON at byte %d: \\u must be followed by four hex digits", errJSON, j-1)
				}
				j += 4
			default:
				return 0, fmt.Errorf("%w: invalid JSON at byte %d: invalid escape %s", errJSON, j-1, quoteStart(b[j-1:min(j+1, len(b))]))
			}
		}
	}
	return 0, fmt.Errorf("%w: invalid JSON: the document ends early, in the string at byte %d (truncated?)", errJSON, i)
}

// plainInString tells the bytes that stand for themselves in a JSON
// string: all but control characters, '"' and '\\'.
var plainInString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// literalEnd returns the position after the true, false, null or number
// at b[i], or -1 if there is none.
func literalEnd(b []byte, i int) int {
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(b[i:], []byte(lit)) {
			return i + len(lit)
		}
	}
	// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && '1' <= b[j] && b[j] <= '9':
		j = digits(b, j)
	default:
		return -1
	}
	if j < len(b) && b[j] == '.' {
		if k := digits(b, j+1); k > j+1 {
			j = k
		} else {
			return -1
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		k := j + 1
		if k < len(b) && (b[k] == '+' || b[k] == '-') {
			k++
		}
		if d := digits(b, k); d > k {
			j = d
		} else {
			return -1
		}
	}
	return j
}

// digits returns the position after the decimal digits at b[i:].
func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// quoteStart quotes the first bytes of b for an error message.
func quoteStart(b []byte) string {
	if len(b) > 16 {
		return strconv.Quote(string(b[:16])) + "..."
	}
	return strconv.Quote(string(b))
}

// invalidUTF8 returns the offset of the first invalid UTF-8 sequence in b.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// The walks below find AnyValues nested deeper than otlpwire.MaxValueDepth
// in a decoded request, by the rule the wire scan applies to protobuf: a
// body or an attribute's value is level 1, and every map entry's or slice
// element's value is one level below its container. Their recursion is
// bounded by maxJSONDepth, which the prescan enforced. They allocate only
// to build an error.

// tooDeep reports whether v, at level, or a value inside it is deeper than
// the limit.
func tooDeep(v pcommon.Value, level int) bool {
	if level > otlpwire.MaxValueDepth {
		return true
	}
	switch v.Type() {
	case pcommon.ValueTypeMap:
		return deepAttr(v.Map(), level+1) >= 0
	case pcommon.ValueTypeSlice:
		for _, e := range v.Slice().All() {
			if tooDeep(e, level+1) {
				return true
			}
		}
	}
	return false
}

// deepAttr returns the index of the first value of m (at level) that is
// too deep, or -1.
func deepAttr(m pcommon.Map, level int) int {
	i := 0
	for _, v := range m.All() {
		if tooDeep(v, level) {
			return i
		}
		i++
	}
	return -1
}

// deepErr is the error for a too-deep value at the path built by format.
func deepErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s: AnyValues nested more than %d levels deep (%w)",
		errJSON, fmt.Sprintf(format, a...), otlpwire.MaxValueDepth, otlpwire.ErrTooDeep)
}

func logsTooDeep(ld plog.Logs) error {
	for ri, rl := range ld.ResourceLogs().All() {
		if i := deepAttr(rl.Resource().Attributes(), 1); i >= 0 {
			return deepErr("resourceLogs[%d].resource.attributes[%d]", ri, i)
		}
		for si, sl := range rl.ScopeLogs().All() {
			if i := deepAttr(sl.Scope().Attributes(), 1); i >= 0 {
				return deepErr("resourceLogs[%d].scopeLogs[%d].scope.attributes[%d]", ri, si, i)
			}
			for li, lr := range sl.LogRecords().All() {
				if tooDeep(lr.Body(), 1) {
					return deepErr("resourceLogs[%d].scopeLogs[%d].logRecords[%d].body", ri, si, li)
				}
				if i := deepAttr(lr.Attributes(), 1); i >= 0 {
					return deepErr("resourceLogs[%d].scopeLogs[%d].logRecords[%d].attributes[%d]", ri, si, li, i)
				}
			}
		}
	}
	return nil
}

func tracesTooDeep(td ptrace.Traces) error {
	for ri, rs := range td.ResourceSpans().All() {
		if i := deepAttr(rs.Resource().Attributes(), 1); i >= 0 {
			return deepErr("resourceSpans[%d].resource.attributes[%d]", ri, i)
		}
		for si, ss := range rs.ScopeSpans().All() {
			if i := deepAttr(ss.Scope().Attributes(), 1); i >= 0 {
				return deepErr("resourceSpans[%d].scopeSpans[%d].scope.attributes[%d]", ri, si, i)
			}
			for pi, sp := range ss.Spans().All() {
				if i := deepAttr(sp.Attributes(), 1); i >= 0 {
					return deepErr("resourceSpans[%d].scopeSpans[%d].spans[%d].attributes[%d]", ri, si, pi, i)
				}
				for ei, ev := range sp.Events().All() {
					if i := deepAttr(ev.Attributes(), 1); i >= 0 {
						return deepErr("resourceSpans[%d].scopeSpans[%d].spans[%d].events[%d].attributes[%d]", ri, si, pi, ei, i)
					}
				}
				for li, l := range sp.Links().All() {
					if i := deepAttr(l.Attributes(), 1); i >= 0 {
						return deepErr("resourceSpans[%d].scopeSpans[%d].spans[%d].links[%d].attributes[%d]", ri, si, pi, li, i)
					}
				}
			}
		}
	}
	return nil
}

func metricsTooDeep(md pmetric.Metrics) error {
	for ri, rm := range md.ResourceMetrics().All() {
		if i := deepAttr(rm.Resource().Attributes(), 1); i >= 0 {
			return deepErr("resourceMetrics[%d].resource.attributes[%d]", ri, i)
		}
		for si, sm := range rm.ScopeMetrics().All() {
			if i := deepAttr(sm.Scope().Attributes(), 1); i >= 0 {
				return deepErr("resourceMetrics[%d].scopeMetrics[%d].scope.attributes[%d]", ri, si, i)
			}
			for mi, m := range sm.Metrics().All() {
				if i := deepAttr(m.Metadata(), 1); i >= 0 {
					return deepErr("resourceMetrics[%d].scopeMetrics[%d].metrics[%d].metadata[%d]", ri, si, mi, i)
				}
				if path := deepPoint(m); path != "" {
					return deepErr("resourceMetrics[%d].scopeMetrics[%d].metrics[%d].%s", ri, si, mi, path)
				}
			}
		}
	}
	return nil
}

// deepPoint returns the path, within metric m, of the first data point
// attribute or exemplar attribute that is too deep, or "".
func deepPoint(m pmetric.Metric) string {
	exemplars := func(es pmetric.ExemplarSlice) (int, int) {
		for ei, e := range es.All() {
			if i := deepAttr(e.FilteredAttributes(), 1); i >= 0 {
				return ei, i
			}
		}
		return -1, -1
	}
	const (
		attrPath     = "%s.dataPoints[%d].attributes[%d]"
		exemplarPath = "%s.dataPoints[%d].exemplars[%d].filteredAttributes[%d]"
	)
	number := func(ps pmetric.NumberDataPointSlice, name string) string {
		for pi, p := range ps.All() {
			if i := deepAttr(p.Attributes(), 1); i >= 0 {
				return fmt.Sprintf(attrPath, name, pi, i)
			}
			if ei, i := exemplars(p.Exemplars()); ei >= 0 {
				return fmt.Sprintf(exemplarPath, name, pi, ei, i)
			}
		}
		return ""
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return number(m.Gauge().DataPoints(), "gauge")
	case pmetric.MetricTypeSum:
		return number(m.Sum().DataPoints(), "sum")
	case pmetric.MetricTypeHistogram:
		for pi, p := range m.Histogram().DataPoints().All() {
			if i := deepAttr(p.Attributes(), 1); i >= 0 {
				return fmt.Sprintf(attrPath, "histogram", pi, i)
			}
			if ei, i := exemplars(p.Exemplars()); ei >= 0 {
				return fmt.Sprintf(exemplarPath, "histogram", pi, ei, i)
			}
		}
	case pmetric.MetricTypeExponentialHistogram:
		for pi, p := range m.ExponentialHistogram().DataPoints().All() {
			if i := deepAttr(p.Attributes(), 1); i >= 0 {
				return fmt.Sprintf(attrPath, "exponentialHistogram", pi, i)
			}
			if ei, i := exemplars(p.Exemplars()); ei >= 0 {
				return fmt.Sprintf(exemplarPath, "exponentialHistogram", pi, ei, i)
			}
		}
	case pmetric.MetricTypeSummary:
		for pi, p := range m.Summary().DataPoints().All() {
			if i := deepAttr(p.Attributes(), 1); i >= 0 {
				return fmt.Sprintf(attrPath, "summary", pi, i)
			}
		}
	}
	return ""
}
