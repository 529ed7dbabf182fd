// Package admin is ackflow's HTTP admin server: Prometheus metrics, health
// probes, pipeline status, a shutdown trigger and Go's profiler.
//
// # Endpoints
//
//	GET  /metrics             Prometheus text format
//	GET  /livez               200 while the process serves requests
//	GET  /readyz              200 while every pipeline runs and none drains, else 503
//	GET  /api/v1/status       JSON: pipelines, copies, item accounting, node states (status.go)
//	GET  /api/v1/tap          NDJSON: OTLP JSON samples of a node's output (tap.go)
//	GET  /api/v1/guarantees   JSON: what the configuration promises (WithGuarantees)
//	POST /api/v1/shutdown     starts a graceful drain (202)
//	GET  /debug/pprof/...     net/http/pprof, only WithPProf (engine.http_admin.pprof)
//
// # Security
//
// Without a token (WithToken) the server serves the local host only:
// Listen refuses an address that is not loopback (ErrNotLoopback), and
// every request must be addressed to the server by a loopback name: its
// Host header must be localhost, 127.x.x.x or [::1] with the port the server
// listens on, else the answer is 403. A page whose domain was rebound to
// 127.0.0.1 (DNS rebinding) sends its own domain there.
//
// With a token, every endpoint but /livez and /readyz needs the header
// "Authorization: Bearer TOKEN" (compared in constant time), else the
// answer is 401; the server may then listen on any address, and should
// serve TLS (WithTLS) when it does, so that the token is not sent in clear.
//
// In both cases a request that changes something (any method but GET,
// HEAD and OPTIONS) must carry the header X-Ackflow-Request: 1 or
// Content-Type: application/json, else the answer is 403. A web page can
// send neither to another origin without a CORS preflight, which this
// server never grants, so a page open on the host cannot stop the engine:
//
//	curl -X POST -H 'X-Ackflow-Request: 1' http://127.0.0.1:8080/api/v1/shutdown
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/guarantee"
	"github.com/ackflow/ackflow/telemetry"
)

// ErrNotLoopback is returned by Listen for an address that is not a
// loopback one when the server has no token.
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

	token         []byte // nil: no token, loopback only
	pprof         bool
	certFile, key string // TLS when certFile is set

	guarantees *guarantee.Report // GET /api/v1/guarantees; nil: not given
}

// Option configures a Server.
type Option func(*Server)

// WithToken makes every endpoint but /livez and /readyz ask for
// "Authorization: Bearer token", and lets the server listen off loopback.
// An empty token changes nothing.
func WithToken(token string) Option {
	return func(s *Server) {
		if token != "" {
			s.token = []byte(token)
		}
	}
}

// WithPProf serves Go's profiler under /debug/pprof/.
func WithPProf() Option { return func(s *Server) { s.pprof = true } }

// WithTLS serves HTTPS with the PEM certificate chain and key in these
// files, loaded by Listen.
func WithTLS(certFile, keyFile string) Option {
	return func(s *Server) { s.certFile, s.key = certFile, keyFile }
}

// New returns a server for e. onShutdown is called (once per request) by
// POST /api/v1/shutdown and must not block.
func New(e Engine, metrics *telemetry.Registry, onShutdown func(), opts ...Option) *Server {
	s := &Server{engine: e, metrics: metrics, onShutdown: onShutdown}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("GET /api/v1/status", s.handleStatus)
	mux.HandleFunc("GET /api/v1/tap", s.handleTap) // tap.go
	mux.HandleFunc("GET /api/v1/guarantees", s.handleGuarantees)
	mux.HandleFunc("POST /api/v1/shutdown", s.handleShutdown)
	if s.pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	} else {
		mux.HandleFunc("GET /debug/pprof/", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the profiler is off: set engine.http_admin.pprof: true to serve /debug/pprof/", http.StatusNotFound)
		})
	}
	s.srv = &http.Server{Handler: s.guard(mux), ReadHeaderTimeout: 10 * time.Second}
	return s
}

// guard refuses requests without the token when one is set, requests not
// addressed to a loopback name when none is, and changes asked for by a
// request that a web page could send cross-origin (see the package doc).
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case s.token == nil:
			if msg := checkHost(r); msg != "" {
				http.Error(w, msg, http.StatusForbidden)
				return
			}
		case !open(r.URL.Path) && !s.authorized(r):
			w.Header().Set("WWW-Authenticate", `Bearer realm="ackflow admin"`)
			http.Error(w, r.URL.Path+" needs the admin token: send the header 'Authorization: Bearer TOKEN' "+
				"(the token is engine.http_admin.auth_token or the content of auth_token_file; ackflow top and tap take --token)",
				http.StatusUnauthorized)
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

// open reports whether path is served without the token: the probes,
// which an orchestrator calls without credentials.
func open(path string) bool { return path == "/livez" || path == "/readyz" }

// authorized reports whether r carries the token. Both sides are hashed
// first so that the comparison takes the same time whatever the length of
// the guess.
func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	a, b := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256(s.token)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
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

// Listen binds addr. Without a token it must be a loopback address
// (localhost, 127.x.x.x or [::1]); any other is refused with
// ErrNotLoopback, as is a name that resolved to another address. With TLS
// it loads the certificate here. Separate from Serve so that a busy port
// or a bad certificate is reported before the pipelines start.
func (s *Server) Listen(addr string) error {
	if host, _, err := net.SplitHostPort(addr); err == nil && !loopbackHost(host) && s.token == nil {
		return notLoopback(addr)
	}
	var tlsConf *tls.Config
	if s.certFile != "" {
		cert, err := tls.LoadX509KeyPair(s.certFile, s.key)
		if err != nil {
			return fmt.Errorf("admin: engine.http_admin.tls: load cert_file %q and key_file %q: %w", s.certFile, s.key, err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin: listen on %s: %w (set engine.http_admin.bind_address to a free address)", addr, err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); s.token == nil && (!ok || !a.IP.IsLoopback()) {
		ln.Close()
		return notLoopback(addr)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	s.ln = ln
	return nil
}

func notLoopback(addr string) error {
	return fmt.Errorf("%w without an auth token: bind_address %s: the admin API can stop the engine and read its data "+
		"(set engine.http_admin.auth_token_file, or bind to 127.0.0.1:PORT, [::1]:PORT or localhost:PORT)", ErrNotLoopback, addr)
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

func (s *Server) handleShutdown(w http.ResponseWriter, _ *http.Request) {
	if s.onShutdown != nil {
		s.onShutdown()
	}
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintln(w, "shutdown started")
}
