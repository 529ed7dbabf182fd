package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc/codes"
)

func TestRunSendsExactCount(t *testing.T) {
	tests := []struct {
		protocol    Protocol
		signal      Signal
		compression Compression
		arrow       Compression // OTAP payload compression
	}{
		{GRPC, Logs, NoCompression, ""},
		{GRPC, Metrics, NoCompression, ""},
		{GRPC, Traces, NoCompression, ""},
		{GRPC, Logs, Gzip, ""},
		{GRPC, Logs, Zstd, ""},
		{HTTP, Logs, NoCompression, ""},
		{HTTP, Metrics, NoCompression, ""},
		{HTTP, Traces, NoCompression, ""},
		{HTTP, Logs, Gzip, ""},
		{HTTP, Logs, Zstd, ""},
		{OTAP, Logs, NoCompression, ""},
		{OTAP, Metrics, NoCompression, ""},
		{OTAP, Traces, NoCompression, ""},
		{OTAP, Logs, Zstd, ""},
		{protocol: OTAP, signal: Logs, compression: NoCompression, arrow: Zstd},
	}
	for _, tt := range tests {
		name := string(tt.protocol) + "/" + string(tt.signal) + "/" + string(tt.compression)
		if tt.arrow != "" {
			name += "/arrow-" + string(tt.arrow)
		}
		t.Run(name, func(t *testing.T) {
			s := newSink(t, nil)
			cfg := testConfig(tt.protocol, serve(t, tt.protocol, s))
			cfg.Signal, cfg.Compression, cfg.ArrowCompression = tt.signal, tt.compression, tt.arrow
			rep, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.requireClean(t)
			if got := s.requests.Load(); got != cfg.Requests {
				t.Errorf("server got %d requests, want exactly %d", got, cfg.Requests)
			}
			wantItems := cfg.Requests * int64(cfg.Items)
			if got := s.items.Load(); got != wantItems {
				t.Errorf("server got %d items, want %d", got, wantItems)
			}
			if rep.Requests != cfg.Requests || rep.OK != cfg.Requests || rep.Errors != 0 || rep.Items != wantItems {
				t.Errorf("report: requests %d ok %d errors %d items %d; want %d %d 0 %d",
					rep.Requests, rep.OK, rep.Errors, rep.Items, cfg.Requests, cfg.Requests, wantItems)
			}
			if rep.Latency.P50 <= 0 || rep.Latency.P50 > rep.Latency.P99 || rep.Latency.P99 > rep.Latency.Max {
				t.Errorf("latency not ordered: %+v", rep.Latency)
			}
		})
	}
}

func TestRunCountsErrorsByStatus(t *testing.T) {
	tests := []struct {
		protocol Protocol
		fail     verdict
		status   string
	}{
		{GRPC, verdict{code: codes.Unavailable}, "Unavailable"},
		{GRPC, verdict{code: codes.InvalidArgument}, "InvalidArgument"},
		{HTTP, verdict{http: 503}, "503"},
		{HTTP, verdict{http: 400}, "400"},
		{OTAP, verdict{code: codes.Unavailable}, "Unavailable"},
		{OTAP, verdict{code: codes.ResourceExhausted}, "ResourceExhausted"},
	}
	for _, tt := range tests {
		t.Run(string(tt.protocol)+"/"+tt.status, func(t *testing.T) {
			s := newSink(t, func(n int64) verdict { // every third request fails
				if n%3 == 0 {
					return tt.fail
				}
				return verdict{}
			})
			cfg := testConfig(tt.protocol, serve(t, tt.protocol, s))
			rep, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Requests != 30 || rep.OK != 20 || rep.Errors != 10 {
				t.Errorf("requests %d ok %d errors %d; want 30 20 10", rep.Requests, rep.OK, rep.Errors)
			}
			if got := rep.ErrorsByStatus[tt.status]; got != 10 || len(rep.ErrorsByStatus) != 1 {
				t.Errorf("errors_by_status = %v, want {%s: 10}", rep.ErrorsByStatus, tt.status)
			}
			if rep.Items != 20*int64(cfg.Items) {
				t.Errorf("items = %d, want only those of the 20 successful requests (%d)", rep.Items, 20*cfg.Items)
			}
		})
	}
}

func TestRunCountsUnansweredRequestsAsTimeouts(t *testing.T) {
	for _, p := range []Protocol{GRPC, HTTP, OTAP} {
		t.Run(string(p), func(t *testing.T) {
			s := newSink(t, func(n int64) verdict { return verdict{hang: n == 1} })
			cfg := testConfig(p, serve(t, p, s))
			cfg.Workers, cfg.Requests, cfg.Timeout = 1, 3, 300*time.Millisecond // room for a first request under -race on a loaded machine
			rep, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK != 2 || rep.ErrorsByStatus[StatusTimeout] != 1 {
				t.Errorf("ok %d, errors %v; want 2 ok and one %s", rep.OK, rep.ErrorsByStatus, StatusTimeout)
			}
		})
	}
}

func TestRunCountsRefusedConnections(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there any more
	for _, tt := range []struct {
		protocol Protocol
		status   string
	}{{GRPC, "Unavailable"}, {HTTP, StatusTransport}, {OTAP, "Unavailable"}} {
		t.Run(string(tt.protocol), func(t *testing.T) {
			cfg := testConfig(tt.protocol, addr)
			cfg.Requests = 2
			rep, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK != 0 || rep.ErrorsByStatus[tt.status] != 2 {
				t.Errorf("ok %d, errors %v; want 2 × %s", rep.OK, rep.ErrorsByStatus, tt.status)
			}
		})
	}
}

// With a rate, request n is due n/rate after the start: 20 requests at
// 2,000/s cannot finish in less than 19/2000 s. Only this lower bound is
// checked on real sockets; the exact pacing is checked in a synctest bubble.
func TestRunRespectsRateOnSockets(t *testing.T) {
	s := newSink(t, nil)
	cfg := testConfig(GRPC, serve(t, GRPC, s))
	cfg.Rate, cfg.Requests = 2000, 20
	start := time.Now()
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed, min := time.Since(start), 19*time.Second/2000; elapsed < min {
		t.Errorf("20 requests at 2000/s took %s, less than the schedule's %s", elapsed, min)
	}
	if rep.OK != 20 || s.requests.Load() != 20 {
		t.Errorf("ok %d, server %d; want 20", rep.OK, s.requests.Load())
	}
}

// fakeTransport answers every request after latency (fake time inside a
// synctest bubble) and records when each request started.
type fakeTransport struct {
	latency time.Duration
	fail    func(i int) string
	starts  chan time.Time
}

func (f *fakeTransport) send(ctx context.Context, _, i int) result {
	f.starts <- time.Now()
	select {
	case <-time.After(f.latency):
	case <-ctx.Done():
		return result{status: StatusTimeout}
	}
	if f.fail != nil {
		return result{status: f.fail(i)}
	}
	return result{}
}

func (f *fakeTransport) close() error { return nil }

func TestPacing(t *testing.T) {
	tests := []struct {
		name      string
		workers   int
		rate      float64
		duration  time.Duration
		requests  int64
		latency   time.Duration
		wantCount int64
	}{
		// Due times 0, 10ms, ... 990ms are before the 1 s deadline; 1 s is not.
		{"duration bounds a paced run", 3, 100, time.Second, 0, 5 * time.Millisecond, 100},
		{"budget bounds a paced run", 3, 100, time.Minute, 7, 5 * time.Millisecond, 7},
		// Workers slower than the rate: the budget still holds exactly.
		{"slow workers", 2, 1000, 0, 10, 50 * time.Millisecond, 10},
		// Workers far behind schedule stop at the deadline all the same:
		// each sends at 0, 300, 600 and 900 ms.
		{"slow workers stop at the deadline", 2, 1000, time.Second, 0, 300 * time.Millisecond, 8},
		// Unpaced: 4 workers × (1 s / 100 ms) = 40 requests.
		{"as fast as possible", 4, 0, time.Second, 0, 100 * time.Millisecond, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.Workers, cfg.Rate, cfg.Duration, cfg.Requests = tt.workers, tt.rate, tt.duration, tt.requests
				cfg.Items, cfg.Pool = 10, 2
				pool := &Pool{Items: 10, Raw: make([][]byte, 2)}
				ft := &fakeTransport{latency: tt.latency, starts: make(chan time.Time, 10_000)}
				start := time.Now()
				rep := run(t.Context(), cfg, pool, ft)
				close(ft.starts)
				if rep.Requests != tt.wantCount || rep.OK != tt.wantCount || rep.Items != 10*tt.wantCount {
					t.Fatalf("requests %d ok %d items %d, want %d requests", rep.Requests, rep.OK, rep.Items, tt.wantCount)
				}
				if tt.rate == 0 {
					return
				}
				// The k-th request to start does not start before k/rate.
				k := 0
				for st := range ft.starts {
					if due := time.Duration(float64(k) / tt.rate * float64(time.Second)); st.Sub(start) < due {
						t.Errorf("request %d started at %s, before its due time %s", k, st.Sub(start), due)
					}
					k++
				}
			})
		})
	}
}

func TestWarmupIsNotReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Workers, cfg.Rate, cfg.Warmup, cfg.Duration = 1, 10, time.Second, 2*time.Second
		pool := &Pool{Items: 1, Raw: make([][]byte, 1)}
		ft := &fakeTransport{latency: time.Millisecond, starts: make(chan time.Time, 100)}
		rep := run(t.Context(), cfg, pool, ft)
		if len(ft.starts) != 30 || rep.Requests != 20 {
			t.Errorf("sent %d, reported %d; want 30 sent (10 warm-up) and 20 reported", len(ft.starts), rep.Requests)
		}
	})
}

func TestCancelStopsSendingButAnswersInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cfg := DefaultConfig()
		cfg.Workers, cfg.Duration = 2, time.Hour
		pool := &Pool{Items: 1, Raw: make([][]byte, 1)}
		ft := &fakeTransport{latency: time.Second, starts: make(chan time.Time, 100)}
		time.AfterFunc(2500*time.Millisecond, cancel)
		rep := run(ctx, cfg, pool, ft)
		// Each worker sent at 0, 1 s and 2 s; the last ones finish at 3 s.
		if rep.Requests != 6 || rep.OK != 6 {
			t.Errorf("requests %d ok %d; want 6 answered", rep.Requests, rep.OK)
		}
	})
}

func TestNonLoopbackRefused(t *testing.T) {
	tests := []struct {
		endpoint string
		wantErr  error
	}{
		{"192.0.2.1:4317", ErrNotLoopback}, // TEST-NET-1
		{"10.1.2.3:4317", ErrNotLoopback},
		{"[2001:db8::1]:4317", ErrNotLoopback},
		{"http://198.51.100.7:4318/v1/logs", ErrNotLoopback},
		{"0.0.0.0:4317", ErrNotLoopback}, // unspecified is not loopback
		{"127.0.0.1:1", nil},
		{"127.9.9.9:1", nil},
		{"[::1]:1", nil},
		{"localhost:1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Endpoint, cfg.Protocol = tt.endpoint, HTTP
			tg, err := cfg.target()
			if err != nil {
				t.Fatal(err)
			}
			err = CheckLoopback(t.Context(), tg.host)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("CheckLoopback(%q) = %v, want %v", tg.host, err, tt.wantErr)
			}
		})
	}

	t.Run("Run refuses before sending", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Endpoint, cfg.Requests = "192.0.2.1:4317", 1
		rep, err := Run(t.Context(), cfg)
		if !errors.Is(err, ErrNotLoopback) || rep != nil {
			t.Errorf("Run = %v, %v; want ErrNotLoopback and no report", rep, err)
		}
	})
	t.Run("the dialer refuses too", func(t *testing.T) {
		d := &dialer{}
		if _, err := d.DialContext(t.Context(), "tcp", "192.0.2.1:4317"); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("dial = %v, want ErrNotLoopback", err)
		}
	})
	t.Run("Main refuses with exit 1", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := Main([]string{"--endpoint", "192.0.2.1:4317", "--requests", "1"}, &out, &errb)
		if code != ExitFailure || !strings.Contains(errb.String(), "--allow-non-loopback") {
			t.Errorf("exit %d, stderr %q; want 1 and a hint about --allow-non-loopback", code, errb.String())
		}
	})
}

func TestMainJSONReport(t *testing.T) {
	s := newSink(t, func(n int64) verdict {
		if n == 0 {
			return verdict{code: codes.Unavailable}
		}
		return verdict{}
	})
	addr := serveGRPC(t, s)
	var out, errb bytes.Buffer
	code := Main([]string{"--endpoint", addr, "--requests", "8", "--workers", "2", "--items", "10",
		"--body-size", "20", "--pool", "2", "--json"}, &out, &errb)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	if errb.String() != ReadyLine+"\n" {
		t.Errorf("stderr %q, want only the ready line %q", errb.String(), ReadyLine)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
	}
	want := map[string]any{
		"protocol": "grpc", "signal": "logs", "compression": "none", "workers": 2.0,
		"items_per_request": 10.0, "requests": 8.0, "ok": 7.0, "errors": 1.0, "items": 70.0,
		"rejected_items": 0.0, "target_rate": 0.0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for _, k := range []string{"endpoint", "request_bytes", "duration_seconds", "requests_per_second", "items_per_second"} {
		if _, ok := got[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
	if e, _ := got["errors_by_status"].(map[string]any); e["Unavailable"] != 1.0 {
		t.Errorf("errors_by_status = %v, want {Unavailable: 1}", got["errors_by_status"])
	}
	lat, _ := got["latency_seconds"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "max", "mean"} {
		if v, ok := lat[k].(float64); !ok || v <= 0 {
			t.Errorf("latency_seconds.%s = %v, want a positive number", k, lat[k])
		}
	}
}

func TestMainTextReportAndExitCodes(t *testing.T) {
	s := newSink(t, nil)
	addr := serveHTTP(t, s)
	var out, errb bytes.Buffer
	if code := Main([]string{"--protocol", "http", "--endpoint", addr, "--requests", "3", "--items", "5"}, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	for _, want := range []string{"3 sent, 3 ok, 0 errors", "15 delivered", "p99"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}

	failing := newSink(t, func(int64) verdict { return verdict{http: 503} })
	addr = serveHTTP(t, failing)
	out.Reset()
	if code := Main([]string{"--protocol", "http", "--endpoint", addr, "--requests", "2", "--items", "5"}, &out, &errb); code != ExitFailure {
		t.Errorf("all requests failed: exit %d, want %d", code, ExitFailure)
	}
	if !strings.Contains(out.String(), "503=2") {
		t.Errorf("report lacks the errors:\n%s", out.String())
	}

	if code := Main([]string{"--workers", "0"}, &out, &errb); code != ExitUsage {
		t.Errorf("--workers 0: exit %d, want %d", code, ExitUsage)
	}
	if code := Main([]string{"--no-such-flag"}, &out, &errb); code != ExitUsage {
		t.Errorf("unknown flag: exit %d, want %d", code, ExitUsage)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"http url with path", func(c *Config) { c.Protocol, c.Endpoint = HTTP, "http://127.0.0.1:4318/custom" }, ""},
		{"no port", func(c *Config) { c.Endpoint = "localhost" }, ""},
		{"bad protocol", func(c *Config) { c.Protocol = "udp" }, "--protocol"},
		{"bad signal", func(c *Config) { c.Signal = "profiles" }, "--signal"},
		{"bad compression", func(c *Config) { c.Compression = "lz4" }, "--compression"},
		{"no workers", func(c *Config) { c.Workers = 0 }, "--workers"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "--rate"},
		{"unbounded", func(c *Config) { c.Duration, c.Requests = 0, 0 }, "every run is bounded"},
		{"no items", func(c *Config) { c.Items = 0 }, "--items"},
		{"huge body", func(c *Config) { c.BodySize = 1 << 30 }, "--body-size"},
		{"huge pool", func(c *Config) { c.Pool, c.Items, c.BodySize = 1000, 1_000_000, 1000 }, "request pool"},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, "--timeout"},
		{"https", func(c *Config) { c.Endpoint = "https://127.0.0.1:4317" }, "--endpoint"},
		{"grpc with path", func(c *Config) { c.Endpoint = "http://127.0.0.1:4317/v1/logs" }, "no path"},
		{"bad port", func(c *Config) { c.Endpoint = "127.0.0.1:99999" }, "invalid port"},
		{"otap", func(c *Config) { c.Protocol, c.Compression, c.ArrowCompression = OTAP, Zstd, Zstd }, ""},
		{"otap with path", func(c *Config) { c.Protocol, c.Endpoint = OTAP, "http://127.0.0.1:4317/v1/logs" }, "no path"},
		{"arrow compression without otap", func(c *Config) { c.ArrowCompression = Zstd }, "--arrow-compression"},
		{"bad arrow compression", func(c *Config) { c.Protocol, c.ArrowCompression = OTAP, Gzip }, "--arrow-compression"},
		{"otap ring", func(c *Config) { c.Protocol, c.OTAPRing = OTAP, 64 }, ""},
		{"ring without otap", func(c *Config) { c.OTAPRing = 4 }, "--otap-ring"},
		{"huge rings", func(c *Config) { c.Protocol, c.OTAPRing, c.Workers = OTAP, 4096, 64 }, "rings would take"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrConfig)):
				t.Errorf("error %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 10_000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5 * time.Millisecond},
		{0.9, 9 * time.Millisecond},
		{0.99, 9900 * time.Microsecond},
		{1, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		got := h.quantile(tt.q)
		if diff := float64(got-tt.want) / float64(tt.want); diff > 0.016 || diff < -0.016 {
			t.Errorf("quantile(%g) = %s, want %s within 1.6%%", tt.q, got, tt.want)
		}
	}
	if h.max != 10*time.Millisecond {
		t.Errorf("max = %s", h.max)
	}
	for v := uint64(0); v < 1<<20; v = v*9/8 + 1 { // buckets are monotonic and contain their values
		if i := bucketOf(v); i > 0 && bucketOf(v-1) > i {
			t.Fatalf("bucketOf not monotonic at %d", v)
		}
	}
}

func TestPoolIsDeterministic(t *testing.T) {
	for _, sig := range []Signal{Logs, Metrics, Traces} {
		cfg := DefaultConfig()
		cfg.Signal, cfg.Items, cfg.Pool = sig, 100, 3
		a, err := NewPool(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewPool(cfg)
		for i := range a.Raw {
			if !bytes.Equal(a.Raw[i], b.Raw[i]) {
				t.Errorf("%s: request %d differs between two pools", sig, i)
			}
			if n, err := decodeItems(string(sig), a.Raw[i]); err != nil || n != 100 {
				t.Errorf("%s: request %d has %d items (%v), want 100", sig, i, n, err)
			}
		}
		if bytes.Equal(a.Raw[0], a.Raw[1]) {
			t.Errorf("%s: pool entries are identical", sig)
		}
	}
	// The default log request: 1,000 records of 185 B bodies.
	p, err := NewPool(Config{Signal: Logs, Items: DefaultItems, BodySize: DefaultBodySize, Pool: 1, Compression: NoCompression})
	if err != nil {
		t.Fatal(err)
	}
	if n := p.RequestBytes(); n < 185_000 || n > 300_000 {
		t.Errorf("default request is %d B, want about 1000 × (185 B + framing)", n)
	}
}

func TestRejectedItems(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want int64
	}{
		{"empty", nil, 0},
		{"partial success 7", []byte{0x0a, 0x02, 0x08, 0x07}, 7},
		{"message only", []byte{0x0a, 0x03, 0x12, 0x01, 'x'}, 0},
		{"garbage", []byte{0xff}, 0},
	}
	for _, tt := range tests {
		if got := rejectedItems(tt.body); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestSDKShape(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Shape, cfg.Pool = ShapeSDK, 2
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range p.Raw {
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(raw); err != nil {
			t.Fatal(err)
		}
		ld := req.Logs()
		if ld.ResourceLogs().Len() != 1 || ld.ResourceLogs().At(0).ScopeLogs().Len() != 1 {
			t.Fatalf("request %d: want one resource and one scope", i)
		}
		recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		if recs.Len() != DefaultItems {
			t.Fatalf("request %d: %d records, want %d", i, recs.Len(), DefaultItems)
		}
		for j := range recs.Len() {
			lr := recs.At(j)
			if b := lr.Body(); b.Type() != pcommon.ValueTypeStr || len(b.Str()) != SDKBodySize {
				t.Fatalf("request %d record %d: body %s of %d B, want a %d-byte string", i, j, b.Type(), len(b.AsString()), SDKBodySize)
			}
			if lr.Attributes().Len() != SDKAttributes {
				t.Fatalf("request %d record %d: %d attributes, want %d", i, j, lr.Attributes().Len(), SDKAttributes)
			}
			for k, v := range lr.Attributes().All() {
				if v.Type() != pcommon.ValueTypeStr || len(k) > 16 || len(v.Str()) > 16 {
					t.Fatalf("request %d record %d: attribute %s=%s (%s), want a short string", i, j, k, v.AsString(), v.Type())
				}
			}
		}
		// ~185 B per record on the wire, everything included.
		if per := float64(len(raw)) / DefaultItems; per < 180 || per > 190 {
			t.Errorf("request %d: %.1f B per record, want about 185", i, per)
		}
	}
	if bytes.Equal(p.Raw[0], p.Raw[1]) {
		t.Error("pool entries are identical")
	}
	cfg.Signal = Traces
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--shape") {
		t.Errorf("sdk shape with traces: %v, want a --shape error", err)
	}
	cfg.Signal, cfg.Shape = Logs, "fancy"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--shape") {
		t.Errorf("unknown shape: %v, want a --shape error", err)
	}
}
