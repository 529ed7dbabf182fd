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
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/telemetry"
)

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
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// Handler returns the server's routes, for tests.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Listen binds addr. Separate from Serve so that a busy port is reported
// before the pipelines start.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin: listen on %s: %w (set engine.http_admin.bind_address to a free address)", addr, err)
	}
	s.ln = ln
	return nil
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
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	doc := statusJSON{Ready: s.engine.Ready(), Pipelines: []pipelineJSON{}}
	for _, p := range s.engine.Status() {
		pj := pipelineJSON{
			Name: p.Name, Copies: p.Copies, Admitted: p.Flow.Admitted, Delivered: p.Flow.Delivered,
			Nacked: p.Flow.Nacked, Dropped: p.Flow.Dropped, InFlight: p.Flow.InFlight(),
		}
		for _, n := range p.Nodes {
			pj.Nodes = append(pj.Nodes, nodeJSON{Name: n.Name, Type: n.Type, Copy: n.Copy, State: n.State, Queued: n.Queued})
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
