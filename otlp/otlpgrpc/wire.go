package otlpgrpc

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrBadResponse is wrapped by the errors of the wire parsers below: the
// peer sent bytes that are not the message it should have.
var ErrBadResponse = errors.New("otlpgrpc: malformed response")

// PartialSuccess is the partial_success of an Export*ServiceResponse: the
// request was accepted, but Rejected items of it were dropped by the peer.
type PartialSuccess struct {
	// Rejected is rejected_log_records, rejected_data_points or
	// rejected_spans (field 1 of the message, whatever the signal).
	Rejected int64
	// Message is error_message (field 2): why, in the peer's words.
	Message string
}

// Partial reports whether the peer said anything: a partial_success with
// no rejected items and no message means full success (OTLP spec).
func (p PartialSuccess) Partial() bool { return p.Rejected != 0 || p.Message != "" }

// ParsePartialSuccess reads the partial_success (field 1) of a serialized
// Export*ServiceResponse. The three signals' responses share the layout,
// so one parser serves all. Unknown fields are skipped, as protobuf
// requires; a body that is not protobuf returns an error wrapping
// ErrBadResponse.
func ParsePartialSuccess(body []byte) (PartialSuccess, error) {
	var ps PartialSuccess
	err := eachField(body, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 1 {
			return nil
		}
		if typ != protowire.BytesType {
			return fmt.Errorf("%w: partial_success has wire type %d", ErrBadResponse, typ)
		}
		// A repeated singular message field merges; last values win.
		return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
			switch {
			case num == 1 && typ == protowire.VarintType:
				ps.Rejected = int64(x)
			case num == 2 && typ == protowire.BytesType:
				ps.Message = string(v)
			}
			return nil
		})
	})
	return ps, err
}

// AppendPartialSuccess appends a serialized Export*ServiceResponse holding
// ps to dst. An empty ps appends nothing: a full success is zero bytes.
func AppendPartialSuccess(dst []byte, ps PartialSuccess) []byte {
	if !ps.Partial() {
		return dst
	}
	var inner []byte
	if ps.Rejected != 0 {
		inner = protowire.AppendTag(inner, 1, protowire.VarintType)
		inner = protowire.AppendVarint(inner, uint64(ps.Rejected))
	}
	if ps.Message != "" {
		inner = protowire.AppendTag(inner, 2, protowire.BytesType)
		inner = protowire.AppendString(inner, ps.Message)
	}
	dst = protowire.AppendTag(dst, 1, protowire.BytesType)
	return protowire.AppendBytes(dst, inner)
}

// AppendStatus appends a serialized google.rpc.Status{code, message} to
// dst: the body OTLP/HTTP requires on every 4xx and 5xx response.
func AppendStatus(dst []byte, code int32, msg string) []byte {
	if code != 0 {
		dst = protowire.AppendTag(dst, 1, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(int64(code)))
	}
	if msg != "" {
		dst = protowire.AppendTag(dst, 2, protowire.BytesType)
		dst = protowire.AppendString(dst, msg)
	}
	return dst
}

// ParseStatus reads the code and message of a serialized google.rpc.Status,
// skipping its details.
func ParseStatus(body []byte) (code int32, msg string, err error) {
	err = eachField(body, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			code = int32(x)
		case num == 2 && typ == protowire.BytesType:
			msg = string(v)
		}
		return nil
	})
	return code, msg, err
}

// eachField calls f for every field of the serialized message b, with the
// payload of length-delimited fields in v and the value of varint and
// fixed-width fields in x.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return fmt.Errorf("%w: bad tag at offset %d: %v", ErrBadResponse, off, protowire.ParseError(n))
		}
		off += n
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b[off:])
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b[off:])
		case protowire.Fixed32Type:
			var x32 uint32
			x32, n = protowire.ConsumeFixed32(b[off:])
			x = uint64(x32)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b[off:])
		default:
			n = protowire.ConsumeFieldValue(num, typ, b[off:])
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d at offset %d: %v", ErrBadResponse, num, off, protowire.ParseError(n))
		}
		off += n
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
