package kafka

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// errMalformed is wrapped by every decoding failure: the record is not a
// valid export request of its topic's signal and encoding, and never will
// be.
var errMalformed = errors.New("not a valid OTLP export request")

// maxJSONDepth bounds the nesting of a JSON record before it reaches
// pdata's decoder, which recurses once per level without a bound: deep
// enough for every request whose values stay within otlpwire.MaxValueDepth
// (15 levels of envelope, 4 per value level), shallow enough to be
// harmless.
const maxJSONDepth = 15 + 4*otlpwire.MaxValueDepth + 2

// decode turns a record's value into a payload of rt's signal: the wire
// scan for otlp_proto (the payload aliases value, which nobody modifies),
// a decode for otlp_json. An error wraps errMalformed.
func decode(rt route, value []byte) (*pdata.Payload, error) {
	if rt.enc == encProto {
		p, err := pdata.FromOTLP(rt.signal, value)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errMalformed, err)
		}
		return p, nil
	}
	if err := prescanJSON(value); err != nil {
		return nil, fmt.Errorf("%w: %s JSON: %w", errMalformed, rt.signal, err)
	}
	switch rt.signal {
	case pdata.Logs:
		r := plogotlp.NewExportRequest()
		if err := r.UnmarshalJSON(value); err != nil {
			return nil, fmt.Errorf("%w: logs JSON: %w", errMalformed, err)
		}
		return pdata.FromLogs(r.Logs()), nil
	case pdata.Metrics:
		r := pmetricotlp.NewExportRequest()
		if err := r.UnmarshalJSON(value); err != nil {
			return nil, fmt.Errorf("%w: metrics JSON: %w", errMalformed, err)
		}
		return pdata.FromMetrics(r.Metrics()), nil
	default:
		r := ptraceotlp.NewExportRequest()
		if err := r.UnmarshalJSON(value); err != nil {
			return nil, fmt.Errorf("%w: traces JSON: %w", errMalformed, err)
		}
		return pdata.FromTraces(r.Traces()), nil
	}
}

// prescanJSON checks what pdata's JSON decoder does not: UTF-8, a bounded
// nesting, one object and nothing but whitespace after it. It does not
// validate the syntax otherwise; the decoder does.
func prescanJSON(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	depth, inString, escaped, ended := 0, false, false, false
	for i, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		if ended {
			return fmt.Errorf("content after the document at byte %d", i)
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth == 0 && c != '{' {
				return errors.New("the document is not an object")
			}
			if depth++; depth > maxJSONDepth {
				return fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
			}
		case '}', ']':
			if depth--; depth < 0 {
				return fmt.Errorf("unbalanced %q at byte %d", c, i)
			}
			ended = depth == 0
		default:
			if depth == 0 {
				return errors.New("the document is not an object")
			}
		}
	}
	if depth != 0 || inString || !ended {
		return errors.New("truncated document")
	}
	return nil
}
