package otlpgrpc

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
)

// codecName is the content-subtype the codec announces. It must be "proto":
// peers (the Collector, SDKs) expect application/grpc+proto or plain
// application/grpc, and our bytes are exactly protobuf.
const codecName = "proto"

// Codec moves OTLP export requests and responses as bytes. It knows four
// message types: *Request and *Response on the server, *ExportRequest and
// *Response on the client. Any other type is an error, so a codec forced on
// the wrong server fails loudly instead of mis-encoding.
//
// It is stateless and safe for concurrent use, as grpc-go requires.
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

// Request is an export request body as received by a server.
type Request struct {
	// Body is the serialized Export*ServiceRequest. It stays valid for as
	// long as it is referenced (see Unmarshal) and must not be modified.
	Body []byte
	// failure is why the body could not be decompressed, as the status
	// the service handler answers (see compress.go), or nil.
	failure error
}

// Response is an Export*ServiceResponse body: empty for a full success, or
// a partial_success (see ParsePartialSuccess).
type Response struct {
	Body []byte
}

// ExportRequest is an export request sent by a client: chunks whose
// concatenation is one serialized Export*ServiceRequest, as pdata.Payload
// holds them. The chunks are sent without copying and must not be modified
// until the call returns.
type ExportRequest struct {
	Chunks [][]byte
}

// Name returns "proto" (see codecName).
func (Codec) Name() string { return codecName }

// Marshal returns the bytes of a *Response (server) or an *ExportRequest
// (client). ExportRequest chunks become one buffer each, uncopied; slice
// buffers are never returned to a pool, so gRPC freeing them is harmless.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case *ExportRequest:
		out := make(mem.BufferSlice, 0, len(m.Chunks))
		for _, c := range m.Chunks {
			if len(c) > 0 {
				out = append(out, mem.SliceBuffer(c))
			}
		}
		return out, nil
	case *Response:
		if len(m.Body) == 0 {
			return nil, nil // an empty Export*ServiceResponse is zero bytes
		}
		return mem.BufferSlice{mem.SliceBuffer(m.Body)}, nil
	}
	return nil, fmt.Errorf("otlpgrpc codec: cannot marshal %T", v)
}

// Unmarshal takes the body of a *Request or a *Response.
//
// A request that arrived in one buffer (one HTTP/2 data frame, or one
// decompression buffer) is kept without copying: the codec takes its own
// reference and never releases it, so grpc-go can never hand that memory
// to another stream, and the garbage collector reclaims it when the payload
// is gone. The reference is never freed on purpose: a payload can outlive
// the request's ack (a fan-out acks on its primary while a backup still
// sends the bytes), so no point in the request's life is safe for a Free.
// A request spread over several buffers is copied once into one slice,
// since the wire scan needs contiguous bytes.
//
// A body whose decompression failed (it ends with the failure trailer of
// compress.go) is not kept: a *Request records the failure for the service
// handler, which answers INVALID_ARGUMENT (or UNAVAILABLE if the process
// decompressed too much at once); a *Response is an error.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *Request:
		if err := decompressFailure(data); err != nil {
			m.Body, m.failure = nil, err
			return nil
		}
		m.Body, m.failure = keep(data), nil
		return nil
	case *Response:
		if err := decompressFailure(data); err != nil {
			return fmt.Errorf("otlpgrpc codec: response: %w", err)
		}
		m.Body = data.Materialize()
		return nil
	}
	return fmt.Errorf("otlpgrpc codec: cannot unmarshal into %T", v)
}

// keep returns data's bytes as one slice that stays valid after gRPC frees
// data (see Unmarshal).
func keep(data mem.BufferSlice) []byte {
	switch len(data) {
	case 0:
		return nil
	case 1:
		data[0].Ref()
		return data[0].ReadOnlyData()
	}
	return data.Materialize()
}
