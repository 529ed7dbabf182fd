package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/admin"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeEngine struct{ ready atomic.Bool }

func (f *fakeEngine) Ready() bool { return f.ready.Load() }

func (f *fakeEngine) Status() []engine.PipelineStatus {
	return []engine.PipelineStatus{{
		Name: "g/p", Copies: 2,
		Flow:  engine.Flow{Admitted: 10, Delivered: 6, Nacked: 1, Dropped: 1},
		Nodes: []engine.NodeStatus{{Name: "in", Type: "receiver:otlp", State: "running", Queued: 3}},
	}}
}

// do sends a request as a local client does: to 127.0.0.1, with the header
// that state-changing requests need.
func do(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Host = "127.0.0.1:8080"
	req.Header.Set(admin.RequestHeader, "1")
	return send(t, h, req)
}

func send(t *testing.T, h http.Handler, req *http.Request) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestEndpoints(t *testing.T) {
	eng := &fakeEngine{}
	reg := telemetry.NewRegistry()
	reg.Counter("ackflow_test_total", "t").Add(5)
	var shutdowns atomic.Int32
	s := admin.New(eng, reg, func() { shutdowns.Add(1) })
	h := s.Handler()

	if code, _ := do(t, h, "GET", "/livez"); code != http.StatusOK {
		t.Errorf("/livez = %d", code)
	}
	if code, _ := do(t, h, "GET", "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before ready = %d, want 503", code)
	}
	eng.ready.Store(true)
	if code, _ := do(t, h, "GET", "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when ready = %d", code)
	}
	if code, body := do(t, h, "GET", "/metrics"); code != http.StatusOK || !strings.Contains(body, "ackflow_test_total 5") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	code, body := do(t, h, "GET", "/api/v1/status")
	var st struct {
		Ready     bool
		Pipelines []struct {
			Name          string
			Copies        int
			InFlightItems uint64 `json:"in_flight_items"`
			Nodes         []struct{ Name, State string }
		}
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != http.StatusOK {
		t.Fatalf("/api/v1/status = %d %q: %v", code, body, err)
	}
	if !st.Ready || len(st.Pipelines) != 1 || st.Pipelines[0].InFlightItems != 2 || st.Pipelines[0].Nodes[0].State != "running" {
		t.Errorf("status %+v", st)
	}
	if code, _ := do(t, h, "GET", "/api/v1/shutdown"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/v1/shutdown = %d, want 405", code)
	}
	if code, _ := do(t, h, "POST", "/api/v1/shutdown"); code != http.StatusAccepted || shutdowns.Load() != 1 {
		t.Errorf("POST /api/v1/shutdown = %d, calls %d", code, shutdowns.Load())
	}
	if code, body := do(t, h, "GET", "/debug/pprof/"); code != http.StatusNotFound || !strings.Contains(body, "engine.http_admin.pprof: true") {
		t.Errorf("/debug/pprof/ without pprof = %d %q, want 404 naming the key", code, body)
	}
	ph := admin.New(eng, reg, nil, admin.WithPProf()).Handler()
	if code, _ := do(t, ph, "GET", "/debug/pprof/"); code != http.StatusOK {
		t.Errorf("/debug/pprof/ with pprof = %d", code)
	}
}

func TestListenServeClose(t *testing.T) {
	s := admin.New(&fakeEngine{}, telemetry.NewRegistry(), nil)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- s.Serve() }()
	resp, err := http.Get("http://" + s.Addr() + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Close = %v, want nil", err)
	}
	if err := admin.New(&fakeEngine{}, nil, nil).Listen("nonsense"); err == nil || !strings.Contains(err.Error(), "bind_address") {
		t.Fatalf("Listen(nonsense) = %v, want an error naming bind_address", err)
	}
}
