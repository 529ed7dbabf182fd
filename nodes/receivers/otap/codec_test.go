package otap

import (
	"bytes"
	"testing"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// codecCases are BatchArrowRecords encodings: real ones, and ones that
// exercise proto's rules (unknown fields, repeated singular fields, wire
// types other than the field's).
func codecCases(t testing.TB) map[string][]byte {
	t.Helper()
	real, err := proto.Marshal(&arrowpb.BatchArrowRecords{
		BatchId: 42,
		ArrowPayloads: []*arrowpb.ArrowPayload{
			{SchemaId: "0", Type: arrowpb.ArrowPayloadType_LOGS, Record: []byte("ipc bytes of the logs")},
			{SchemaId: "1", Type: arrowpb.ArrowPayloadType_LOG_ATTRS, Record: []byte{0, 1, 2}},
			{},
		},
		Headers: []byte("hpack"),
	})
	if err != nil {
		t.Fatal(err)
	}
	payload := protowire.AppendTag(nil, fieldSchemaID, protowire.BytesType)
	payload = protowire.AppendString(payload, "first")
	payload = protowire.AppendTag(payload, fieldSchemaID, protowire.BytesType)
	payload = protowire.AppendString(payload, "last wins")
	payload = protowire.AppendTag(payload, fieldPayloadType, protowire.VarintType)
	payload = protowire.AppendVarint(payload, uint64(arrowpb.ArrowPayloadType_SPANS))
	payload = protowire.AppendTag(payload, 9, protowire.Fixed32Type) // unknown
	payload = protowire.AppendFixed32(payload, 7)
	payload = protowire.AppendTag(payload, fieldRecord, protowire.VarintType) // wrong wire type: unknown
	payload = protowire.AppendVarint(payload, 3)

	odd := protowire.AppendTag(nil, fieldBatchID, protowire.VarintType)
	odd = protowire.AppendVarint(odd, 1)
	odd = protowire.AppendTag(odd, fieldBatchID, protowire.VarintType)
	odd = protowire.AppendVarint(odd, ^uint64(0)) // -1
	odd = protowire.AppendTag(odd, 15, protowire.StartGroupType)
	odd = protowire.AppendTag(odd, 1, protowire.VarintType)
	odd = protowire.AppendVarint(odd, 5)
	odd = protowire.AppendTag(odd, 15, protowire.EndGroupType)
	odd = protowire.AppendTag(odd, fieldArrowPayloads, protowire.BytesType)
	odd = protowire.AppendBytes(odd, payload)
	odd = protowire.AppendTag(odd, fieldHeaders, protowire.Fixed64Type) // wrong wire type
	odd = protowire.AppendFixed64(odd, 1)

	badUTF8 := protowire.AppendTag(nil, fieldSchemaID, protowire.BytesType)
	badUTF8 = protowire.AppendBytes(badUTF8, []byte{0xff, 0xfe})
	bad := protowire.AppendTag(nil, fieldArrowPayloads, protowire.BytesType)
	bad = protowire.AppendBytes(bad, badUTF8)

	return map[string][]byte{"real": real, "proto rules": odd, "invalid UTF-8": bad, "empty": nil}
}

// unmarshalBatch decodes what proto.Unmarshal decodes, and refuses what it
// refuses, every prefix of each case included.
func TestUnmarshalBatchAsProto(t *testing.T) {
	for name, b := range codecCases(t) {
		for cut := 0; cut <= len(b); cut++ {
			in := b[:cut]
			var want, got arrowpb.BatchArrowRecords
			wantErr := proto.Unmarshal(in, &want)
			gotErr := unmarshalBatch(in, &got)
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("%s, %d of %d bytes: proto error %v, unmarshalBatch error %v", name, cut, len(b), wantErr, gotErr)
			}
			if wantErr != nil {
				continue
			}
			// Unknown fields aside, the messages are equal.
			want.ProtoReflect().SetUnknown(nil)
			for _, p := range want.ArrowPayloads {
				p.ProtoReflect().SetUnknown(nil)
			}
			if !proto.Equal(&want, &got) {
				t.Fatalf("%s, %d of %d bytes: got %v, want %v", name, cut, len(b), &got, &want)
			}
		}
	}
}

// The payloads' records view the bytes decoded: no copy.
func TestUnmarshalBatchViewsItsInput(t *testing.T) {
	b := codecCases(t)["real"]
	var bar arrowpb.BatchArrowRecords
	if err := unmarshalBatch(b, &bar); err != nil {
		t.Fatal(err)
	}
	rec := bar.ArrowPayloads[0].Record
	at := bytes.Index(b, []byte("ipc bytes of the logs"))
	if at < 0 || len(rec) == 0 || &rec[0] != &b[at] {
		t.Fatal("the record was copied")
	}
}

func FuzzUnmarshalBatch(f *testing.F) {
	for _, b := range codecCases(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want, got arrowpb.BatchArrowRecords
		wantErr := proto.Unmarshal(b, &want)
		gotErr := unmarshalBatch(b, &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("proto error %v, unmarshalBatch error %v", wantErr, gotErr)
		}
		if wantErr != nil {
			return
		}
		want.ProtoReflect().SetUnknown(nil)
		for _, p := range want.ArrowPayloads {
			p.ProtoReflect().SetUnknown(nil)
		}
		if !proto.Equal(&want, &got) {
			t.Fatalf("got %v, want %v", &got, &want)
		}
	})
}

// grpc-go reuses the buffers it hands Unmarshal once it returns: the
// payloads view Unmarshal's own copy, not them, whether the message came
// in one buffer or several.
func TestCodecCopiesOutOfGRPCBuffers(t *testing.T) {
	b := codecCases(t)["real"]
	var want arrowpb.BatchArrowRecords
	if err := proto.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for _, parts := range []int{1, 3} {
		buf := bytes.Clone(b)
		var data mem.BufferSlice
		for i := range parts {
			data = append(data, mem.SliceBuffer(buf[i*len(buf)/parts:(i+1)*len(buf)/parts]))
		}
		in := &inbound{}
		if err := (serverCodec{}).Unmarshal(data, in); err != nil || in.invalid != nil || in.failure != nil {
			t.Fatalf("%d buffers: %v %v %v", parts, err, in.invalid, in.failure)
		}
		for i := range buf { // grpc-go reuses them
			buf[i] = 0xee
		}
		if !proto.Equal(&want, &in.bar) {
			t.Fatalf("%d buffers: the message changed with gRPC's buffers: %v", parts, &in.bar)
		}
	}
}
