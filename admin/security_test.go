package admin_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ackflow/ackflow/admin"
	"github.com/ackflow/ackflow/telemetry"
)

// A web page open on the host must not be able to stop the engine or read
// its state: cross-origin requests that change something are refused unless
// they could only have been sent after a CORS preflight, and requests
// addressed to another host name (DNS rebinding) are refused outright.
func TestRequestsAreGuarded(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		host     string
		header   map[string]string
		wantCode int
		wantBody string // a substring; "" checks nothing
		shutdown bool   // the shutdown callback must run
	}{
		{name: "curl with the header", method: "POST", path: "/api/v1/shutdown", host: "127.0.0.1:8080",
			header: map[string]string{"X-Ackflow-Request": "1"}, wantCode: http.StatusAccepted, shutdown: true},
		{name: "JSON request", method: "POST", path: "/api/v1/shutdown", host: "localhost:8080",
			header: map[string]string{"Content-Type": "application/json; charset=utf-8"}, wantCode: http.StatusAccepted, shutdown: true},
		{name: "IPv6 loopback", method: "POST", path: "/api/v1/shutdown", host: "[::1]:8080",
			header: map[string]string{"X-Ackflow-Request": "1"}, wantCode: http.StatusAccepted, shutdown: true},
		{name: "cross-origin text/plain form post", method: "POST", path: "/api/v1/shutdown", host: "127.0.0.1:8080",
			header:   map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"},
			wantCode: http.StatusForbidden,
			wantBody: "POST /api/v1/shutdown changes the engine's state, so it needs the header X-Ackflow-Request: 1 (or Content-Type: application/json)"},
		{name: "no header at all", method: "POST", path: "/api/v1/shutdown", host: "127.0.0.1:8080",
			wantCode: http.StatusForbidden, wantBody: "curl -X POST -H 'X-Ackflow-Request: 1' http://127.0.0.1:8080/api/v1/shutdown"},
		{name: "urlencoded form", method: "POST", path: "/api/v1/shutdown", host: "127.0.0.1:8080",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, wantCode: http.StatusForbidden},
		{name: "header with another value", method: "POST", path: "/api/v1/shutdown", host: "127.0.0.1:8080",
			header: map[string]string{"X-Ackflow-Request": "yes"}, wantCode: http.StatusForbidden},
		{name: "DNS rebinding: shutdown", method: "POST", path: "/api/v1/shutdown", host: "evil.example:8080",
			header:   map[string]string{"X-Ackflow-Request": "1"},
			wantCode: http.StatusForbidden,
			wantBody: `misdirected request: Host "evil.example:8080" does not name this admin server`},
		{name: "DNS rebinding: status", method: "GET", path: "/api/v1/status", host: "evil.example:8080",
			wantCode: http.StatusForbidden, wantBody: "DNS rebinding"},
		{name: "DNS rebinding: pprof", method: "GET", path: "/debug/pprof/cmdline", host: "evil.example",
			wantCode: http.StatusForbidden},
		{name: "a LAN address", method: "GET", path: "/metrics", host: "192.168.1.10:8080", wantCode: http.StatusForbidden},
		{name: "reads need no header", method: "GET", path: "/api/v1/status", host: "127.0.0.1:8080", wantCode: http.StatusOK},
		{name: "localhost in capitals", method: "GET", path: "/livez", host: "LOCALHOST:8080", wantCode: http.StatusOK},
		{name: "another loopback address", method: "GET", path: "/livez", host: "127.0.0.2:8080", wantCode: http.StatusOK},
		{name: "a preflight is not granted", method: "OPTIONS", path: "/api/v1/shutdown", host: "127.0.0.1:8080",
			header:   map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
			wantCode: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var shutdowns atomic.Int32
			h := admin.New(&fakeEngine{}, telemetry.NewRegistry(), func() { shutdowns.Add(1) }).Handler()
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader("{}"))
			req.Host = tt.host
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Result().Body)
			if rec.Code != tt.wantCode || !strings.Contains(string(body), tt.wantBody) {
				t.Fatalf("%s %s (Host %s) = %d %q, want %d with %q", tt.method, tt.path, tt.host, rec.Code, body, tt.wantCode, tt.wantBody)
			}
			if got := shutdowns.Load() == 1; got != tt.shutdown {
				t.Errorf("shutdown called: %t, want %t", got, tt.shutdown)
			}
			if rec.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("the server granted CORS: %v", rec.Header())
			}
		})
	}
}

// Over a real socket, the Host header must also carry the port the server
// listens on.
func TestHostMustNameTheBoundPort(t *testing.T) {
	s := admin.New(&fakeEngine{}, telemetry.NewRegistry(), nil)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- s.Serve() }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
		<-done
	}()
	_, port, _ := net.SplitHostPort(s.Addr())
	for _, tt := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:" + port, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"127.0.0.1:1", http.StatusForbidden},
		{"127.0.0.1", http.StatusForbidden}, // port 80
		{"ackflow.example:" + port, http.StatusForbidden},
	} {
		req, err := http.NewRequest("GET", "http://"+s.Addr()+"/livez", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tt.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("Host %s: %d %q, want %d", tt.host, resp.StatusCode, body, tt.want)
		}
		if tt.want == http.StatusForbidden && !strings.Contains(string(body), "127.0.0.1:"+port+", localhost:"+port+" or [::1]:"+port) {
			t.Errorf("Host %s: the refusal does not name the addresses to use: %q", tt.host, body)
		}
	}
}

func TestListenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "ackflow.example:0"} {
		err := admin.New(&fakeEngine{}, nil, nil).Listen(addr)
		if !errors.Is(err, admin.ErrNotLoopback) || !strings.Contains(err.Error(), "only loopback binds are allowed without an auth token") {
			t.Errorf("Listen(%s) = %v, want ErrNotLoopback", addr, err)
		}
	}
	s := admin.New(&fakeEngine{}, nil, nil)
	if err := s.Listen("localhost:0"); err != nil {
		t.Fatalf("Listen(localhost:0) = %v", err)
	}
	done := make(chan error)
	go func() { done <- s.Serve() }()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
