package otap

import (
	"fmt"

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
	var b []byte
	if len(data) == 1 {
		b = data[0].ReadOnlyData() // Unmarshal copies what it keeps
	} else {
		b = data.Materialize()
	}
	if err := proto.Unmarshal(b, &in.bar); err != nil {
		in.invalid = err
	}
	return nil
}
