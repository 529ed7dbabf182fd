package otlpgrpc_test

import (
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
)

// Unset settings take the defaults; set ones are kept.
func TestTransportOr(t *testing.T) {
	got := otlpgrpc.Transport{WriteBufferSize: 1 << 20}.Or(otlpgrpc.DefaultTransport)
	want := otlpgrpc.DefaultTransport
	want.WriteBufferSize = 1 << 20
	if got != want {
		t.Fatalf("Or = %+v, want %+v", got, want)
	}
}

// Every setting out of its bounds is reported under its own key; a nil or
// zero Transport is valid.
func TestTransportValidate(t *testing.T) {
	var none *otlpgrpc.Transport
	if err := none.Validate(config.Path{}); err != nil {
		t.Fatalf("nil: %v", err)
	}
	if err := (&otlpgrpc.Transport{}).Validate(config.Path{}); err != nil {
		t.Fatalf("zero: %v", err)
	}
	bad := &otlpgrpc.Transport{ReadBufferSize: 1 << 30, WriteBufferSize: -1, StreamWindow: 1 << 10, ConnWindow: 1 << 40}
	err := bad.Validate(config.Path{}.Key("transport"))
	for _, key := range []string{"read_buffer_size", "write_buffer_size", "initial_stream_window", "initial_connection_window"} {
		if err == nil || !strings.Contains(err.Error(), "transport."+key) {
			t.Fatalf("error %v does not name %s", err, key)
		}
	}
}
