package logsampling

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/pdata/plog"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/pdata"
)

// This file cuts a logs payload down to its first k records.
//
// OTLP bytes are cut without decoding. A request is a sequence of resource
// entries: the entries wholly before the cut are kept as slices of the
// original bytes, the entries after it are left out, and only the entry
// the cut falls in is rewritten: its scope entries after the cut are left
// out, and the one the cut falls in keeps its first records. Everything
// else in the rewritten entries (resource, scope, schema URLs, fields this
// version does not know) is copied as it is. Decoded and OTAP payloads are
// cut in the pdata model.
//
// Records are numbered as otlpwire counts them: a resource entry's
// scope_logs (field 2), or, in an entry that has none, its deprecated
// instrumentation_library_logs (field 1000), which pdata reads only then.

// Field numbers of ResourceLogs and ScopeLogs (opentelemetry-proto).
const (
	fieldScopeLogs     protowire.Number = 2    // ResourceLogs.scope_logs
	fieldOldScopeLogs  protowire.Number = 1000 // ResourceLogs.instrumentation_library_logs (deprecated)
	fieldLogRecords    protowire.Number = 2    // ScopeLogs.log_records
	fieldResourceEntry protowire.Number = 1    // ExportLogsServiceRequest.resource_logs
)

// errTrim is wrapped by the errors of a cut that found bytes it did not
// expect: the payload passed otlpwire's scan, so it means a bug.
var errTrim = errors.New("log_sampling: cut OTLP logs")

// trimmer cuts payloads; it keeps its scratch space between calls. It is
// not safe for concurrent use.
type trimmer struct {
	body  []byte // the rewritten ResourceLogs body, before its framing
	scope []byte // the rewritten ScopeLogs body
}

// prefix returns a logs payload holding the first k records of p, for
// 0 < k < p.Items(). OTLP requests are walked once, only up to the entry
// the cut falls in, counting records by their tags: the payload passed
// otlpwire's scan when it was built, so nothing is validated again.
func (t *trimmer) prefix(p *pdata.Payload, k int) (*pdata.Payload, error) {
	if p.Form() != pdata.FormOTLP {
		ld, err := p.Logs()
		if err != nil {
			return nil, err
		}
		return pdata.FromLogs(prefixLogs(ld, k)), nil
	}
	reqs, err := p.Requests()
	if err != nil {
		return nil, err
	}
	var chunks [][]byte
	kept := 0
	for _, req := range reqs {
		run := -1 // start of the fields kept whole since the last chunk
		pos := 0
		for pos < len(req) && kept < k {
			f, err := nextField(req[pos:])
			if err != nil {
				return nil, err
			}
			var cut []byte
			records := 0
			if f.num == fieldResourceEntry && f.typ == protowire.BytesType {
				if cut, records, err = t.cutEntry(f.val, k-kept); err != nil {
					return nil, err
				}
			}
			if cut == nil { // a whole entry, or another top-level field
				if run < 0 {
					run = pos
				}
				kept += records
				pos += f.n
				continue
			}
			if run >= 0 {
				chunks = append(chunks, req[run:pos:pos])
				run = -1
			}
			chunks = append(chunks, cut)
			kept = k
		}
		if run >= 0 {
			chunks = append(chunks, req[run:pos:pos])
		}
		if kept == k {
			break
		}
	}
	if kept != k {
		return nil, fmt.Errorf("%w: found %d records, want %d", errTrim, kept, k)
	}
	out := pdata.FromOTLPChunks(pdata.Logs, chunks, k)
	out.Borrow(p.Leases()...) // its chunks alias p's
	return out, nil
}

// cutEntry cuts the ResourceLogs body res to its first n records (n > 0)
// in one pass. If res holds n records or fewer it returns no cut and its
// record count, counted as otlpwire does (those of its scope_logs, or,
// when it has none, of its deprecated instrumentation_library_logs);
// otherwise it returns a new request holding the cut entry.
func (t *trimmer) cutEntry(res []byte, n int) (cut []byte, records int, err error) {
	scopes, err := scopeField(res)
	if err != nil {
		return nil, 0, err
	}
	left := n
	t.body = t.body[:0]
	for b := res; len(b) > 0; {
		f, err := nextField(b)
		if err != nil {
			return nil, 0, err
		}
		whole := b[:f.n]
		b = b[f.n:]
		switch {
		case f.num != scopes || f.typ != protowire.BytesType:
			t.body = append(t.body, whole...) // resource, schema_url, unknown fields
		case left == 0: // a scope entry after the cut: left out
		default:
			c, err := t.cutScope(f.val, left)
			if err != nil {
				return nil, 0, err
			}
			records += c
			if c <= left {
				t.body = append(t.body, whole...)
				left -= c
				continue
			}
			t.body = protowire.AppendTag(t.body, scopes, protowire.BytesType)
			t.body = protowire.AppendBytes(t.body, t.scope)
			left = 0
		}
	}
	if records <= n {
		return nil, records, nil
	}
	cut = make([]byte, 0, protowire.SizeTag(fieldResourceEntry)+protowire.SizeBytes(len(t.body)))
	cut = protowire.AppendTag(cut, fieldResourceEntry, protowire.BytesType)
	return protowire.AppendBytes(cut, t.body), n, nil
}

// scopeField is the field whose entries hold the records of the
// ResourceLogs body res: scope_logs, or instrumentation_library_logs when
// res has no scope_logs.
func scopeField(res []byte) (protowire.Number, error) {
	for len(res) > 0 {
		f, err := nextField(res)
		if err != nil {
			return 0, err
		}
		if f.num == fieldScopeLogs && f.typ == protowire.BytesType {
			return fieldScopeLogs, nil
		}
		res = res[f.n:]
	}
	return fieldOldScopeLogs, nil
}

// cutScope counts the log records of the ScopeLogs body s and writes into
// t.scope the body with only its first n of them, in one pass. The caller
// uses t.scope only when s holds more than n records.
func (t *trimmer) cutScope(s []byte, n int) (records int, err error) {
	t.scope = t.scope[:0]
	for len(s) > 0 {
		f, err := nextField(s)
		if err != nil {
			return 0, err
		}
		keep := true
		if f.num == fieldLogRecords && f.typ == protowire.BytesType {
			records++
			keep = records <= n
		}
		if keep {
			t.scope = append(t.scope, s[:f.n]...)
		}
		s = s[f.n:]
	}
	return records, nil
}

// field is one field at the start of a message body.
type field struct {
	num protowire.Number
	typ protowire.Type
	n   int    // length of its whole encoding: tag, length and value
	val []byte // the contents of a length-delimited field
}

// nextField reads the field at the start of b.
func nextField(b []byte) (field, error) {
	num, typ, l := protowire.ConsumeTag(b)
	if l < 0 {
		return field{}, fmt.Errorf("%w: %w", errTrim, protowire.ParseError(l))
	}
	if typ == protowire.BytesType {
		v, m := protowire.ConsumeBytes(b[l:])
		if m < 0 {
			return field{}, fmt.Errorf("%w: %w", errTrim, protowire.ParseError(m))
		}
		return field{num: num, typ: typ, n: l + m, val: v}, nil
	}
	m := protowire.ConsumeFieldValue(num, typ, b[l:])
	if m < 0 {
		return field{}, fmt.Errorf("%w: %w", errTrim, protowire.ParseError(m))
	}
	return field{num: num, typ: typ, n: l + m}, nil
}

// prefixLogs copies the first k records of ld into new logs, with the
// resource and scope entries above them (an entry without records before
// the cut is kept, one after it is not), as the OTLP cut does.
func prefixLogs(ld plog.Logs, k int) plog.Logs {
	out := plog.NewLogs()
	left := k
	for _, rl := range ld.ResourceLogs().All() {
		if left == 0 {
			break
		}
		n := 0
		for _, sl := range rl.ScopeLogs().All() {
			n += sl.LogRecords().Len()
		}
		if n <= left {
			rl.CopyTo(out.ResourceLogs().AppendEmpty())
			left -= n
			continue
		}
		orl := out.ResourceLogs().AppendEmpty()
		rl.Resource().CopyTo(orl.Resource())
		orl.SetSchemaUrl(rl.SchemaUrl())
		for _, sl := range rl.ScopeLogs().All() {
			if left == 0 {
				break
			}
			if c := sl.LogRecords().Len(); c <= left {
				sl.CopyTo(orl.ScopeLogs().AppendEmpty())
				left -= c
				continue
			}
			osl := orl.ScopeLogs().AppendEmpty()
			sl.Scope().CopyTo(osl.Scope())
			osl.SetSchemaUrl(sl.SchemaUrl())
			for i := range left {
				sl.LogRecords().At(i).CopyTo(osl.LogRecords().AppendEmpty())
			}
			left = 0
		}
	}
	return out
}
