package testsink

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// StartHTTP puts an OTLP/HTTP (protobuf) front on the sink, on a free port
// of 127.0.0.1, and returns its base URL (http://host:port): POST
// /v1/logs, /v1/metrics and /v1/traces. Its calls are decided, delayed and
// recorded as gRPC calls are, and answered with the statuses an OTLP/HTTP
// server gives: OK 200, INVALID_ARGUMENT 400, anything else 503. It stops
// when the test ends; Close and Restart do not affect it.
func (s *Sink) StartHTTP(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsink: %v", err)
	}
	stopping, stop := context.WithCancel(context.Background())
	var handlers sync.WaitGroup
	mux := http.NewServeMux()
	route := func(path, signal string, decode func(body []byte) (size int, keys []string, err error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			handlers.Add(1)
			defer handlers.Done()
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			size, keys, err := decode(body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			defer context.AfterFunc(stopping, cancel)()
			switch status.Code(s.handle(ctx, signal, size, keys)) {
			case codes.OK:
				w.Header().Set("Content-Type", "application/x-protobuf")
				w.WriteHeader(http.StatusOK)
			case codes.InvalidArgument:
				http.Error(w, "testsink refuses", http.StatusBadRequest)
			default:
				http.Error(w, "testsink unavailable", http.StatusServiceUnavailable)
			}
		})
	}
	route("/v1/logs", SignalLogs, func(b []byte) (int, []string, error) {
		r := plogotlp.NewExportRequest()
		err := r.UnmarshalProto(b)
		return len(b), LogKeys(r.Logs()), err
	})
	route("/v1/metrics", SignalMetrics, func(b []byte) (int, []string, error) {
		r := pmetricotlp.NewExportRequest()
		err := r.UnmarshalProto(b)
		return len(b), MetricKeys(r.Metrics()), err
	})
	route("/v1/traces", SignalTraces, func(b []byte) (int, []string, error) {
		r := ptraceotlp.NewExportRequest()
		err := r.UnmarshalProto(b)
		return len(b), TraceKeys(r.Traces()), err
	})
	srv := &http.Server{Handler: mux}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		stop() // calls in progress, hanging ones included, fail
		_ = srv.Close()
		<-served
		handlers.Wait()
	})
	return "http://" + lis.Addr().String()
}
