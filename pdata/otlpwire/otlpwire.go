package otlpwire

import (
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every error that reports a structural problem
// in a request. The message gives the byte offset and what was wrong.
var ErrMalformed = errors.New("otlpwire: malformed protobuf")

// ErrKind is returned for a Kind that is not Logs, Metrics or Traces: a
// programming error, never caused by the bytes.
var ErrKind = errors.New("otlpwire: unknown kind")

// Kind says which OTLP export request a buffer holds.
type Kind uint8

// The zero Kind is invalid, so a forgotten field is caught rather than read
// as logs.
const (
	Logs    Kind = iota + 1 // ExportLogsServiceRequest
	Metrics                 // ExportMetricsServiceRequest
	Traces                  // ExportTraceServiceRequest
)

// String returns "logs", "metrics" or "traces".
func (k Kind) String() string {
	if k.valid() {
		return schemas[k].signal
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

func (k Kind) valid() bool { return k >= Logs && k <= Traces }

func (k Kind) check() error {
	if !k.valid() {
		return fmt.Errorf("%w: %d", ErrKind, uint8(k))
	}
	return nil
}

// Stats is what Scan counts in a request.
type Stats struct {
	// Items is the number of log records, metric data points or spans.
	Items int
	// Resources is the number of top-level resource entries.
	Resources int
}

// Entry is one top-level resource entry (field 1) of a request: its whole
// encoding, tag and length prefix included, is b[Start:End], so b[Start:End]
// alone is a valid request of the same Kind.
type Entry struct {
	// Start and End are byte offsets into the request.
	Start, End int
	// Items is the number of items in the entry, counted as Stats.Items.
	Items int
}

// Scan validates the framing of the request b of kind k and counts its items
// and resource entries. An empty b is a valid empty request. Errors wrap
// ErrMalformed (or ErrKind). Scan does not allocate unless it fails.
func Scan(k Kind, b []byte) (Stats, error) {
	if err := k.check(); err != nil {
		return Stats{}, err
	}
	var st Stats
	for pos := 0; pos < len(b); {
		f, resource, err := topField(k, b, pos)
		if err != nil {
			return Stats{}, err
		}
		if resource {
			st.Items += f.Items
			st.Resources++
		}
		pos = f.End
	}
	return st, nil
}

// AppendEntries validates b like Scan and appends its resource entries to
// dst in order. Top-level fields other than resource entries (unknown to
// this version of OTLP) are validated and skipped, so the entries need not
// cover b. On error it returns dst unchanged in length. It allocates only
// when dst must grow.
func AppendEntries(dst []Entry, k Kind, b []byte) ([]Entry, error) {
	if err := k.check(); err != nil {
		return dst, err
	}
	n0 := len(dst)
	for pos := 0; pos < len(b); {
		f, resource, err := topField(k, b, pos)
		if err != nil {
			return dst[:n0], err
		}
		if resource {
			dst = append(dst, f)
		}
		pos = f.End
	}
	return dst, nil
}
