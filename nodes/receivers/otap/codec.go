package otap

import (
	"errors"
	"fmt"
	"unicode/utf8"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"google.golang.org/protobuf/encoding/protowire"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/ackflow/ackflow/otlp/otlpgrpc"
)

// serverCodec is the receiver's gRPC codec: protobuf, but a received
// message becomes an *inbound that says whether its decompression failed.
// ackflow's registered decompressors never fail, they mark the message
// instead (otlpgrpc.DecompressFailure), so that the failure can be told
// apart from a transport error and answered with its own status.
type serverCodec struct{}

func (serverCodec) Name() string { return "proto" }

func (serverCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("otap codec: cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("otap codec: %w", err)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (serverCodec) Unmarshal(data mem.BufferSlice, v any) error {
	in, ok := v.(*inbound)
	if !ok {
		return fmt.Errorf("otap codec: cannot unmarshal into %T", v)
	}
	if err := otlpgrpc.DecompressFailure(data); err != nil {
		in.failure = err
		return nil
	}
	in.size = data.Len()
	// One copy, out of gRPC's pooled buffers; the payloads' bytes view it
	// (proto.Unmarshal would copy each of them again).
	if err := unmarshalBatch(data.Materialize(), &in.bar); err != nil {
		in.invalid = err
	}
	return nil
}

// Field numbers of BatchArrowRecords and ArrowPayload (arrow_service.proto).
const (
	fieldBatchID       = 1
	fieldArrowPayloads = 2
	fieldHeaders       = 3
	fieldSchemaID      = 1
	fieldPayloadType   = 2
	fieldRecord        = 3
)

// unmarshalBatch decodes b, a BatchArrowRecords, into bar as
// proto.Unmarshal does (the last of a repeated singular field wins,
// fields of an unexpected wire type or number are skipped, schema ids
// must be UTF-8), except that the bytes fields view b instead of copying
// it: b must not change while bar is in use.
func unmarshalBatch(b []byte, bar *arrowpb.BatchArrowRecords) error {
	bar.Reset()
	return walkFields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == fieldBatchID && typ == protowire.VarintType:
			bar.BatchId = int64(x)
		case num == fieldArrowPayloads && typ == protowire.BytesType:
			p := &arrowpb.ArrowPayload{}
			if err := unmarshalPayload(v, p); err != nil {
				return err
			}
			bar.ArrowPayloads = append(bar.ArrowPayloads, p)
		case num == fieldHeaders && typ == protowire.BytesType:
			bar.Headers = v
		}
		return nil
	})
}

func unmarshalPayload(b []byte, p *arrowpb.ArrowPayload) error {
	return walkFields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == fieldSchemaID && typ == protowire.BytesType:
			if !utf8.Valid(v) {
				return errors.New("arrow_payloads.schema_id: invalid UTF-8")
			}
			p.SchemaId = string(v)
		case num == fieldPayloadType && typ == protowire.VarintType:
			p.Type = arrowpb.ArrowPayloadType(int32(x))
		case num == fieldRecord && typ == protowire.BytesType:
			p.Record = v
		}
		return nil
	})
}

// walkFields calls f with each field of the message b: its number, wire
// type, and value (v for length-delimited fields, x for varints).
func walkFields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("proto: %w", protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			return fmt.Errorf("proto: field number %d out of range", num)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("proto: field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
