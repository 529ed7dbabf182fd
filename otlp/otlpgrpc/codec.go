package otlpgrpc

import (
	"fmt"
	"sync/atomic"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	"github.com/ackflow/ackflow/pdata"
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
	// Lease holds Body's buffers for grpc-go: whoever holds the first
	// reference (the service handler) releases it to let grpc-go reuse
	// them, or never does, and the garbage collector reclaims them. Nil
	// when Body is empty.
	Lease *pdata.Lease
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
	// Leases hold memory the chunks may alias (pdata.Payload.Leases):
	// the codec retains them until grpc-go has written, or given up on,
	// every buffer of the request, which may be after the call returned.
	Leases pdata.Leases
}

// Name returns "proto" (see codecName).
func (Codec) Name() string { return codecName }

// Marshal returns the bytes of a *Response (server) or an *ExportRequest
// (client). ExportRequest chunks become one buffer each, uncopied. Slice
// buffers are never returned to a pool, so gRPC freeing them is harmless;
// the chunks of a request with leases are instead buffers whose last Free
// tells the request's send hold (see sendHold).
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case *ExportRequest:
		if len(m.Leases) > 0 {
			return marshalHeld(m), nil
		}
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

// sendHold keeps the leases of one request's chunks while grpc-go may
// read them: it is the "pool" of the request's buffers, so grpc-go's last
// Free of each calls Put, and the last Put releases the leases. grpc-go
// frees a message's buffers once written to the connection or dropped with
// the stream, which can be after the call returned (a deadline, a reset).
type sendHold struct {
	left   atomic.Int32 // buffers grpc-go has not freed yet
	leases pdata.Leases
}

// Get is never called: grpc-go only gives buffers back to the pool they
// were made with.
func (h *sendHold) Get(int) *[]byte { panic("otlpgrpc: sendHold is not a pool to draw from") }

// Put is grpc-go freeing one of the request's buffers.
func (h *sendHold) Put(*[]byte) {
	if h.left.Add(-1) == 0 {
		h.leases.Release()
	}
}

// marshalHeld returns the buffers of a request whose chunks may alias
// leased memory, the leases retained until grpc-go has freed them all. A
// chunk so short that grpc-go would not pool it (it becomes a plain slice
// buffer, whose Free tells nobody) is copied instead: at most 1 KiB.
func marshalHeld(m *ExportRequest) mem.BufferSlice {
	h := &sendHold{leases: m.Leases}
	out := make(mem.BufferSlice, 0, len(m.Chunks))
	n := int32(0)
	for _, c := range m.Chunks {
		switch {
		case len(c) == 0:
		case mem.IsBelowBufferPoolingThreshold(cap(c)):
			out = append(out, mem.SliceBuffer(append([]byte(nil), c...)))
		default:
			out = append(out, mem.NewBuffer(&c, h))
			n++
		}
	}
	if n > 0 {
		h.leases.Retain()
		h.left.Store(n) // before grpc-go sees the buffers: it frees none while Marshal runs
	}
	return out
}

// Unmarshal takes the body of a *Request or a *Response.
//
// A request is kept as the buffers it arrived in (HTTP/2 data frames, or
// decompression buffers), without copying: the codec takes its own
// reference to each, held by the request's Lease, so that grpc-go hands
// that memory to no other stream until the lease is released. A payload
// can outlive the request's ack (a fan-out acks on its primary while a
// backup still sends the bytes), so the receiver releases it only where
// the pipeline promises that nothing reads the bytes after the outcome;
// otherwise it never does and the garbage collector reclaims the memory.
// The wire scan walks the buffers as they are (otlpwire.ScanBuffers).
//
// A body whose decompression failed (it ends with the failure trailer of
// compress.go) is not kept: a *Request records the failure for the service
// handler, which answers INVALID_ARGUMENT (or UNAVAILABLE if the process
// decompressed too much at once); a *Response is an error.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *Request:
		if err := decompressFailure(data); err != nil {
			m.Body, m.Lease, m.failure = nil, nil, err
			return nil
		}
		m.Body, m.Lease = keep(data)
		m.failure = nil
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
// data, and the lease that holds them (see Unmarshal).
func keep(data mem.BufferSlice) ([][]byte, *pdata.Lease) {
	held := make(mem.BufferSlice, 0, len(data))
	bufs := make([][]byte, 0, len(data))
	for _, b := range data {
		if b.Len() > 0 {
			b.Ref()
			held = append(held, b)
			bufs = append(bufs, b.ReadOnlyData())
		}
	}
	if len(bufs) == 0 {
		return nil, nil
	}
	return bufs, pdata.NewLease(held.Free)
}
