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
	// Body is the serialized Export*ServiceRequest as the buffers it
	// arrived in (one per HTTP/2 DATA frame, 16 KiB at most; their
	// concatenation is the request), kept without copying. They stay
	// valid for as long as they are referenced (see Unmarshal) and must
	// not be modified.
	Body [][]byte
	// failure is why the body could not be decompressed, as the status
	// the service handler answers (see compress.go), or nil.
	failure error
}

// Len returns the size of the request in bytes.
func (r *Request) Len() int {
	n := 0
	for _, b := range r.Body {
		n += len(b)
	}
	return n
}

// Bytes returns the request as one slice: its only buffer, or a copy
// joining them.
func (r *Request) Bytes() []byte {
	if len(r.Body) == 1 {
		return r.Body[0]
	}
	b := make([]byte, 0, r.Len())
	for _, c := range r.Body {
		b = append(b, c...)
	}
	return b
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
// A request is kept as the buffers it arrived in (HTTP/2 data frames, or
// decompression buffers), without copying: the codec takes its own
// reference to each and never releases it, so grpc-go can never hand that
// memory to another stream, and the garbage collector reclaims it when the
// payload is gone. The reference is never freed on purpose: a payload can
// outlive the request's ack (a fan-out acks on its primary while a backup
// still sends the bytes), so no point in the request's life is safe for a
// Free. The wire scan walks the buffers as they are
// (otlpwire.ScanBuffers).
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

// keep returns data's buffers as slices that stay valid after gRPC frees
// data (see Unmarshal).
func keep(data mem.BufferSlice) [][]byte {
	if len(data) == 0 {
		return nil
	}
	bufs := make([][]byte, 0, len(data))
	for _, b := range data {
		if b.Len() > 0 {
			b.Ref()
			bufs = append(bufs, b.ReadOnlyData())
		}
	}
	return bufs
}
