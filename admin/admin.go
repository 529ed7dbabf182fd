// Package admin is ackflow's HTTP admin server: Prometheus metrics, health
// probes, pipeline status, a shutdown trigger and Go's profiler.
//
// # Endpoints
//
//	GET  /metrics             Prometheus text format
//	GET  /livez               200 while the process serves requests
//	GET  /readyz              200 while every pipeline runs and none drains, else 503
//	GET  /api/v1/status       JSON: pipelines, copies, item accounting, node states
//	POST /api/v1/shutdown     starts a graceful drain (202)
//	GET  /debug/pprof/...     net/http/pprof
//
// # Security
//
// The server has no authentication yet, so it serves the local host only.
// Listen refuses an address that is not loopback (ErrNotLoopback).
//
// Every request must be addressed to the server by a loopback name: its
// Host header must be localhost, 127.x.x.x or [::1] with the port the server
// listens on, else the answer is 403. A page whose domain was rebound to
// 127.0.0.1 (DNS rebinding) sends its own domain there.
//
// A request that changes something (any method but GET, HEAD and OPTIONS)
// must carry the header X-Ackflow-Request: 1 or Content-Type:
// application/json, else the answer is 403. A web page can send neither to
// another origin without a CORS preflight, which this server never grants,
// so a page open on the host cannot stop the engine:
//
//	curl -X POST -H 'X-Ackflow-Request: 1' http://127.0.0.1:8080/api/v1/shutdown
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/telemetry"
)

// ErrNotLoopback is returned by Listen for an address that is not a
// loopback one.
var ErrNotLoopback = errors.New("admin: only loopback binds are allowed")

// RequestHeader is the header that a request which changes something must
// carry (with the value "1"), unless its Content-Type is application/json.
const RequestHeader = "X-Ackflow-Request"

// Engine is what the admin server reads from the running engine.
type Engine interface {
	Status() []engine.PipelineStatus
	Ready() bool
}

// Server is the admin HTTP server.
type Server struct {
	engine     Engine
	metrics    *telemetry.Registry
	onShutdown func()
	srv        *http.Server
	ln         net.Listener
}

// New returns a server for e. onShutdown is called (once per request) by
// POST /api/v1/shutdown and must not block.
func New(e Engine, metrics *telemetry.Registry, onShutdown func()) *Server {
	s := &Server{engine: e, metrics: metrics, onShutdown: onShutdown}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("GET /api/v1/status", s.handleStatus)
	mux.HandleFunc("POST /api/v1/shutdown", s.handleShutdown)
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	s.srv = &http.Server{Handler: guard(mux), ReadHeaderTimeout: 10 * time.Second}
	return s
}

// guard refuses requests not addressed to a loopback name, and changes
// asked for by a request that a web page could send cross-origin (see the
// package doc).
func guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg := checkHost(r); msg != "" {
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		if changes(r.Method) && !nonSimple(r) {
			http.Error(w, fmt.Sprintf("%s %s changes the engine's state, so it needs the header %s: 1 (or Content-Type: application/json), "+
				"which a web page cannot send to another site without permission; for example: curl -X %s -H '%s: 1' http://%s%s",
				r.Method, r.URL.Path, RequestHeader, r.Method, RequestHeader, r.Host, r.URL.Path), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkHost returns why r's Host header does not name this server, or "".
// The port must be the one the request came in on, when that is known.
func checkHost(r *http.Request) string {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(r.Host, "["), "]"), "80" // no port: HTTP's default
	}
	want := ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		_, want, _ = net.SplitHostPort(a.String())
	}
	if loopbackHost(host) && (want == "" || port == want) {
		return ""
	}
	if want == "" {
		want = "PORT"
	}
	return fmt.Sprintf("misdirected request: Host %q does not name this admin server, which answers only requests addressed to "+
		"127.0.0.1:%s, localhost:%s or [::1]:%s (this protects it from DNS rebinding)", r.Host, want, want, want)
}

// changes reports whether a request with this method may change state.
func changes(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// nonSimple reports whether r is a request that a browser sends to another
// origin only after a CORS preflight: one with our header or a JSON body.
func nonSimple(r *http.Request) bool {
	if r.Header.Get(RequestHeader) == "1" {
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// loopbackHost reports whether host is localhost or a loopback IP.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Handler returns the server's routes behind its request guard, for tests.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Listen binds addr, which must be a loopback address (localhost,
// 127.x.x.x or [::1]); any other is refused with ErrNotLoopback, as is a
// name that resolved to another address. Separate from Serve so that a busy
// port is reported before the pipelines start.
func (s *Server) Listen(addr string) error {
	if host, _, err := net.SplitHostPort(addr); err == nil && !loopbackHost(host) {
		return notLoopback(addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin: listen on %s: %w (set engine.http_admin.bind_address to a free address)", addr, err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		ln.Close()
		return notLoopback(addr)
	}
	s.ln = ln
	return nil
}

func notLoopback(addr string) error {
	return fmt.Errorf("%w in this build: bind_address %s: the admin API (shutdown, pprof) has no authentication yet "+
		"(set engine.http_admin.bind_address to 127.0.0.1:PORT, [::1]:PORT or localhost:PORT)", ErrNotLoopback, addr)
}

// Addr returns the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Close. It returns nil after Close.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: %w", err)
	}
	return nil
}

// Close stops the server, waiting up to ctx for requests in progress.
func (s *Server) Close(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func (s *Server) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_ = s.metrics.WritePrometheus(w)
}

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	if !s.engine.Ready() {
		http.Error(w, "not ready: draining or not started", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// statusJSON is the /api/v1/status document.
type statusJSON struct {
	Ready     bool           `json:"ready"`
	Pipelines []pipelineJSON `json:"pipelines"`
}

type pipelineJSON struct {
	Name      string     `json:"name"`
	Copies    int        `json:"copies"`
	Admitted  uint64     `json:"admitted_items"`
	Delivered uint64     `json:"delivered_items"`
	Nacked    uint64     `json:"nacked_items"`
	Dropped   uint64     `json:"dropped_items"`
	InFlight  uint64     `json:"in_flight_items"`
	Nodes     []nodeJSON `json:"nodes"`
}

type nodeJSON struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Copy   int    `json:"copy"`
	State  string `json:"state"`
	Queued int    `json:"queued_messages"`
	// Details is what the node type reports of itself (engine.StatusReporter).
	Details map[string]any `json:"details,omitempty"`
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	doc := statusJSON{Ready: s.engine.Ready(), Pipelines: []pipelineJSON{}}
	for _, p := range s.engine.Status() {
		pj := pipelineJSON{
			Name: p.Name, Copies: p.Copies, Admitted: p.Flow.Admitted, Delivered: p.Flow.Delivered,
			Nacked: p.Flow.Nacked, Dropped: p.Flow.Dropped, InFlight: p.Flow.InFlight(),
		}
		for _, n := range p.Nodes {
			pj.Nodes = append(pj.Nodes, nodeJSON{Name: n.Name, Type: n.Type, Copy: n.Copy, State: n.State, Queued: n.Queued, Details: n.Details})
		}
		doc.Pipelines = append(doc.Pipelines, pj)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}

func (s *Server) handleShutdown(w http.ResponseWriter, _ *http.Request) {
	if s.onShutdown != nil {
		s.onShutdown()
	}
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintln(w, "shutdown started")
}
