package kafka

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// recordOverhead bounds what a record batch holding one record adds to the
// record's key, value and headers: the batch header (61 bytes in format
// v2, 4 more for the older message-set sizing franz-go checks before it
// knows the broker's version) and the record's own framing (varints for
// its length, timestamp and offset deltas, key, value and header lengths).
// franz-go fails a record whose batch would exceed ProducerBatchMaxBytes
// with MESSAGE_TOO_LARGE before sending it.
const recordOverhead = 128

// piece is what one Kafka record carries: a whole OTLP request (protobuf
// or JSON) and its key (nil for none).
type piece struct {
	key   []byte
	value []byte
}

// planner cuts the requests of a payload into record values, per the
// signal's partition_key and encoding. Only otlp_json decodes (each
// value, once); the rest walks and copies bytes.
type planner struct {
	kind       otlpwire.Kind
	mode       keyMode
	attrs      []string         // mode keyResource: the resource attributes, in key order
	traceField protowire.Number // mode keyTraceID: where an item keeps its trace id
	json       bool
	// maxMessage is max_message_bytes, fixed is what a record's headers
	// and framing take of it besides the key.
	maxMessage, fixed int
}

// limit is the largest value a record whose key is keyLen bytes may carry.
func (pl *planner) limit(keyLen int) int { return pl.maxMessage - pl.fixed - keyLen }

// plan returns the records of the payload whose requests are reqs (whole
// OTLP requests), and whether any part of it (the whole payload, or the
// items of one key) was over max_message_bytes and was cut. A resource or
// scope too large for any record is a *tooLargeError; malformed bytes
// wrap errMalformed or otlpwire.ErrMalformed.
func (pl *planner) plan(reqs [][]byte) ([]piece, bool, error) {
	var (
		ps    []piece
		split bool
		err   error
	)
	switch pl.mode {
	case keyResource:
		ps, split, err = pl.byResource(reqs)
	case keyTraceID:
		ps, split, err = pl.byTraceID(reqs)
	default:
		ps, split, err = pl.whole(nil, reqs)
	}
	if err != nil || !pl.json {
		return ps, split, err
	}
	var out []piece
	for _, p := range ps {
		js, more, err := pl.toJSON(p, pl.limit(len(p.key)), 0)
		if err != nil {
			return nil, false, err
		}
		out = append(out, js...)
		split = split || more
	}
	return out, split, nil
}

// whole packs reqs, all of one key, into as few records as fit.
func (pl *planner) whole(key []byte, reqs [][]byte) ([]piece, bool, error) {
	limit := pl.limit(len(key))
	total := 0
	var segs [][]byte
	for _, r := range reqs {
		if len(r) == 0 {
			continue // an empty request: nothing to store
		}
		total += len(r)
		var err error
		if segs, err = appendSegments(segs, pl.kind, r, limit); err != nil {
			return nil, false, err
		}
	}
	var ps []piece
	for _, v := range pack(segs, limit) {
		ps = append(ps, piece{key: key, value: v})
	}
	return ps, total > limit, nil
}

// appendSegments appends req to dst as requests of at most limit bytes:
// req itself if it fits, else otlpwire's cut between resource entries,
// with any entry still too large cut between its scopes.
func appendSegments(dst [][]byte, k otlpwire.Kind, req []byte, limit int) ([][]byte, error) {
	if len(req) <= limit {
		return append(dst, req), nil
	}
	chunks, err := otlpwire.Split(k, req, limit)
	if err != nil {
		return dst, err
	}
	for _, c := range chunks {
		if len(c) <= limit {
			dst = append(dst, c)
			continue
		}
		parts, err := splitResource(c, limit)
		if err != nil {
			return dst, err
		}
		dst = append(dst, parts...)
	}
	return dst, nil
}

// pack joins consecutive segments into values of at most limit bytes
// (each segment is at most limit). A value of one segment aliases it;
// joining several copies them, which only happens for payloads of several
// requests (a batch of small ones) or for the items of one key spread over
// a payload.
func pack(segs [][]byte, limit int) [][]byte {
	var out [][]byte
	for i := 0; i < len(segs); {
		j, n := i+1, len(segs[i])
		for j < len(segs) && n+len(segs[j]) <= limit {
			n += len(segs[j])
			j++
		}
		if j == i+1 {
			out = append(out, segs[i])
		} else {
			out = append(out, bytes.Join(segs[i:j], nil))
		}
		i = j
	}
	return out
}

// keyGroup gathers the parts of a payload that share a key, in the order
// the key first appears.
type keyGroup struct {
	key  []byte
	segs [][]byte  // byResource: whole resource entries
	refs []itemRef // byTraceID: items
}

// byResource groups the resource entries by the values of the configured
// resource attributes: one wire walk per entry to its Resource message's
// attributes, no decode. Top-level fields other than resource entries
// (none exist in OTLP 1.x) are not carried.
func (pl *planner) byResource(reqs [][]byte) ([]piece, bool, error) {
	var (
		groups  []*keyGroup
		byKey   = map[string]*keyGroup{}
		entries []otlpwire.Entry
		err     error
	)
	for _, r := range reqs {
		if entries, err = otlpwire.AppendEntries(entries[:0], pl.kind, r); err != nil {
			return nil, false, err
		}
		for _, e := range entries {
			ent := r[e.Start:e.End:e.End]
			key, err := pl.resourceKey(ent)
			if err != nil {
				return nil, false, err
			}
			g, ok := byKey[string(key)]
			if !ok {
				g = &keyGroup{key: key}
				byKey[string(key)] = g
				groups = append(groups, g)
			}
			g.segs = append(g.segs, ent)
		}
	}
	var out []piece
	split := false
	for _, g := range groups {
		ps, more, err := pl.whole(g.key, g.segs)
		if err != nil {
			return nil, false, err
		}
		out = append(out, ps...)
		split = split || more
	}
	return out, split, nil
}

// resourceKey returns the key of a resource entry: the configured
// attributes' values joined by ",", or nil if it has none of them.
func (pl *planner) resourceKey(entry []byte) ([]byte, error) {
	f, _, err := nextField(entry)
	if err != nil {
		return nil, err
	}
	resources, err := resourceMessages(f.val)
	if err != nil {
		return nil, err
	}
	var key []byte
	any := false
	for i, name := range pl.attrs {
		if i > 0 {
			key = append(key, ',')
		}
		for _, res := range resources {
			v, ok, err := attrValue(res, name)
			if err != nil {
				return nil, err
			}
			if ok {
				key = append(key, v...)
				any = true
				break
			}
		}
	}
	if !any {
		return nil, nil
	}
	return key, nil
}

// itemRef is one item (span or log record) and where it came from.
type itemRef struct {
	res, scope int // indexes into the walk's resources and their scopes
	item       []byte
}

// traceWalk is a payload taken apart down to its items.
type traceWalk struct {
	resources []resourceView
	scopes    [][]scopeView // per resource
}

// byTraceID groups the items (spans, log records) by trace id and builds
// one request per trace id holding them under copies of their resource and
// scope, as the Collector's partition_traces_by_id does: a wire walk into
// every item to its trace id field, and a copy of every item. Resources
// and scopes without items are not carried.
func (pl *planner) byTraceID(reqs [][]byte) ([]piece, bool, error) {
	var (
		w       traceWalk
		groups  []*keyGroup
		byKey   = map[string]*keyGroup{}
		entries []otlpwire.Entry
		err     error
	)
	for _, r := range reqs {
		if entries, err = otlpwire.AppendEntries(entries[:0], pl.kind, r); err != nil {
			return nil, false, err
		}
		for _, e := range entries {
			f, _, err := nextField(r[e.Start:e.End])
			if err != nil {
				return nil, false, err
			}
			rv, err := parseResource(f.val)
			if err != nil {
				return nil, false, err
			}
			ri := len(w.resources)
			w.resources = append(w.resources, rv)
			scopes := make([]scopeView, len(rv.scopes))
			w.scopes = append(w.scopes, scopes)
			for si, s := range rv.scopes {
				sf, _, err := nextField(s)
				if err != nil {
					return nil, false, err
				}
				if scopes[si], err = parseScope(sf.val); err != nil {
					return nil, false, err
				}
				for _, it := range scopes[si].items {
					id, err := traceID(it, pl.traceField)
					if err != nil {
						return nil, false, err
					}
					g, ok := byKey[string(id)]
					if !ok {
						g = &keyGroup{}
						if id != nil {
							g.key = hex.AppendEncode(nil, id)
						}
						byKey[string(id)] = g
						groups = append(groups, g)
					}
					g.refs = append(g.refs, itemRef{res: ri, scope: si, item: it})
				}
			}
		}
	}
	var out []piece
	split := false
	for _, g := range groups {
		ps, more, err := pl.whole(g.key, [][]byte{w.build(g.refs)})
		if err != nil {
			return nil, false, err
		}
		out = append(out, ps...)
		split = split || more
	}
	return out, split, nil
}

// build encodes the request holding refs (in walk order) under their
// resources and scopes.
func (w *traceWalk) build(refs []itemRef) []byte {
	// Sizes first: a scope entry's body is its head and its items, a
	// resource entry's its head and its scope entries.
	type run struct {
		res, scope int
		from, to   int // refs[from:to]
		body       int // the scope entry's body size
	}
	var runs []run
	for i, r := range refs {
		if len(runs) == 0 || runs[len(runs)-1].res != r.res || runs[len(runs)-1].scope != r.scope {
			runs = append(runs, run{res: r.res, scope: r.scope, from: i, body: w.scopes[r.res][r.scope].headLen})
		}
		last := &runs[len(runs)-1]
		last.to = i + 1
		last.body += entrySize(fieldScopeItems, len(r.item))
	}
	resBody := func(from int) (body, next int) {
		rv := &w.resources[runs[from].res]
		body = rv.headLen
		next = from
		for ; next < len(runs) && runs[next].res == runs[from].res; next++ {
			body += entrySize(rv.scopeNum, runs[next].body)
		}
		return body, next
	}
	total := 0
	for i := 0; i < len(runs); {
		body, next := resBody(i)
		total += entrySize(fieldRequestResources, body)
		i = next
	}
	out := make([]byte, 0, total)
	for i := 0; i < len(runs); {
		body, next := resBody(i)
		rv := &w.resources[runs[i].res]
		out = appendEntry(out, fieldRequestResources, body, rv.head)
		for _, sr := range runs[i:next] {
			sv := &w.scopes[sr.res][sr.scope]
			out = appendEntry(out, rv.scopeNum, sr.body, sv.head)
			for _, r := range refs[sr.from:sr.to] {
				out = protowire.AppendTag(out, fieldScopeItems, protowire.BytesType)
				out = protowire.AppendBytes(out, r.item)
			}
		}
		i = next
	}
	return out
}

// toJSON encodes p's request as OTLP/JSON: the one path that decodes
// (pdata's protobuf decoder, then its JSON encoder). JSON is larger than
// protobuf, so a value over limit is cut again, between resources and
// scopes, into parts sized by the ratio measured, and each part encoded
// anew; it reports whether it had to.
func (pl *planner) toJSON(p piece, limit, depth int) ([]piece, bool, error) {
	js, err := jsonOf(pl.kind, p.value)
	if err != nil {
		return nil, false, err
	}
	if len(js) <= limit {
		return []piece{{key: p.key, value: js}}, false, nil
	}
	tooLarge := &tooLargeError{what: "resource or scope as OTLP/JSON", need: len(js), entry: len(p.value), limit: limit}
	if depth >= 4 {
		return nil, false, tooLarge // the ratio is far off: give up rather than loop
	}
	smaller := int(int64(len(p.value)) * int64(limit) / int64(len(js)) * 9 / 10)
	segs, err := appendSegments(nil, pl.kind, p.value, smaller)
	var tl *tooLargeError
	switch {
	case errors.As(err, &tl), err == nil && len(segs) < 2:
		return nil, false, tooLarge // no cut between resources or scopes is small enough
	case err != nil:
		return nil, false, err
	}
	var out []piece
	for _, v := range pack(segs, smaller) {
		ps, _, err := pl.toJSON(piece{key: p.key, value: v}, limit, depth+1)
		if err != nil {
			return nil, false, err
		}
		out = append(out, ps...)
	}
	return out, true, nil
}

// jsonOf converts one OTLP request from protobuf to JSON.
func jsonOf(k otlpwire.Kind, b []byte) ([]byte, error) {
	switch k {
	case otlpwire.Logs:
		ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b)
		if err != nil {
			return nil, err
		}
		return (&plog.JSONMarshaler{}).MarshalLogs(ld)
	case otlpwire.Metrics:
		md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b)
		if err != nil {
			return nil, err
		}
		return (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	case otlpwire.Traces:
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		if err != nil {
			return nil, err
		}
		return (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	}
	return nil, fmt.Errorf("%w: %v", otlpwire.ErrKind, k)
}
