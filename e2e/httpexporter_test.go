package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// serveHTTP puts an OTLP/HTTP (protobuf) front on the sink and returns its
// base URL. The sink's verdicts map to the statuses an OTLP/HTTP server
// gives: OK 200, UNAVAILABLE 503, INVALID_ARGUMENT 400.
func (s *sink) serveHTTP(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	handle := func(path string, keysOf func(body []byte) ([]string, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			keys, err := keysOf(body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			switch codeOf(s.handle(r.Context(), keys)) {
			case codes.OK:
				w.Header().Set("Content-Type", "application/x-protobuf")
				w.WriteHeader(http.StatusOK)
			case codes.InvalidArgument:
				http.Error(w, "sink refuses", http.StatusBadRequest)
			default:
				http.Error(w, "sink unavailable", http.StatusServiceUnavailable)
			}
		})
	}
	handle("/v1/logs", func(b []byte) ([]string, error) {
		r := plogotlp.NewExportRequest()
		err := r.UnmarshalProto(b)
		return logKeys(r.Logs()), err
	})
	handle("/v1/metrics", func(b []byte) ([]string, error) {
		r := pmetricotlp.NewExportRequest()
		err := r.UnmarshalProto(b)
		return metricKeys(r.Metrics()), err
	})
	handle("/v1/traces", func(b []byte) ([]string, error) {
		r := ptraceotlp.NewExportRequest()
		err := r.UnmarshalProto(b)
		return traceKeys(r.Traces()), err
	})
	srv := &http.Server{Handler: mux}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		s.unblock()
		_ = srv.Close()
		<-served
	})
	return "http://" + lis.Addr().String()
}

func codeOf(err error) codes.Code { return status.Code(err) }

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
			s := newSink(t, answer(row.code))
			p := startPipe(t, httpExporterYAML(s.serveHTTP(t)), "grpc", "http")
			sent := sendAll(t, p, "httpexp", row.want)
			if err := p.shutdown(drainDeadline); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			n := uint64(len(sent))
			if row.code == codes.OK {
				s.requireExactly(t, sent)
				p.requireFlow(t, n, n, 0)
				return
			}
			s.requireExactly(t, nil)
			p.requireFlow(t, n, 0, n)
		})
	}
}
