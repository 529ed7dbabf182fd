package e2e

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/ackflow/ackflow/internal/testsink"
)

// httpExporterYAML is receiver:otlp → exporter:otlp_http to endpoint.
func httpExporterYAML(endpoint string) string {
	return yamlDoc("", fmt.Sprintf(`
        nodes:
          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          out:
            type: exporter:otlp_http
            config: { endpoint: "%s" }
        connections:
          - { from: in, to: out }
`, endpoint))
}

// TestHTTPExporterEndToEnd: the same answers and the same exact delivery
// through exporter:otlp_http as through the gRPC exporter.
func TestHTTPExporterEndToEnd(t *testing.T) {
	for _, row := range []struct {
		name string
		code codes.Code
		want want
	}{
		{"sink accepts", codes.OK, want{codes.OK, 200, false}},
		{"sink unavailable", codes.Unavailable, want{codes.Unavailable, 503, true}},
		{"sink refuses", codes.InvalidArgument, want{codes.InvalidArgument, 400, false}},
	} {
		t.Run(row.name, func(t *testing.T) {
			s := newSink(t, testsink.Answer(row.code))
			p := startPipe(t, httpExporterYAML(s.StartHTTP(t)), "grpc", "http")
			sent := sendAll(t, p, "httpexp", row.want)
			if err := p.shutdown(drainDeadline); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			n := uint64(len(sent))
			if row.code == codes.OK {
				s.RequireExactly(t, sent)
				p.requireFlow(t, n, n, 0)
				return
			}
			s.RequireExactly(t, nil)
			p.requireFlow(t, n, 0, n)
		})
	}
}
