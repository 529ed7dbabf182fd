package otlp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
)

// Type is the node type.
const Type = "receiver:otlp"

// NewFactory returns the factory of receiver:otlp.
func NewFactory() engine.Factory {
	f := engine.ReceiverFactory(Type,
		"OTLP/gRPC and OTLP/HTTP (protobuf, JSON) for logs, metrics and traces; answers reflect delivery", Load,
		func(nc engine.NodeContext, cfg Config) (engine.Receiver, error) { return New(nc, cfg) })
	f.Guarantee = declareGuarantee
	return f
}

// Receiver is receiver:otlp. Run serves until its context ends and then
// drains; OnOutcome resolves waiting requests from any goroutine.
type Receiver struct {
	name   string
	logger *slog.Logger
	core   *core

	grpc, http *protoServer // nil when the protocol is off
}

// protoServer is one protocol's settings and TLS, loaded at build time so
// that a bad certificate fails the pipeline's start, not the first request.
type protoServer struct {
	st  settings
	tls *tls.Config
}

var _ engine.Receiver = (*Receiver)(nil)

// New builds the receiver from a validated config.
func New(nc engine.NodeContext, cfg Config) (*Receiver, error) {
	logger := nc.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{
		name:   nc.Node.Name,
		logger: logger,
		core:   newCore(nc.Clock, newMetrics(nc.Metrics, nc.Labels), int64(cfg.MaxInFlightBytes), nc.ReuseBuffers),
	}
	for _, pr := range []struct {
		p   *Protocol
		dst **protoServer
	}{{cfg.Protocols.GRPC, &r.grpc}, {cfg.Protocols.HTTP, &r.http}} {
		if pr.p == nil {
			continue
		}
		ps := &protoServer{st: cfg.resolve(pr.p)}
		if ps.st.tls != nil {
			var err error
			if ps.tls, err = ps.st.tls.Load(); err != nil {
				return nil, fmt.Errorf("%s %q: %w", Type, r.name, err)
			}
		}
		*pr.dst = ps
	}
	return r, nil
}

// OnOutcome implements engine.Receiver: it hands an ack or nack to the
// request waiting for it, or counts it as late. It never blocks.
func (r *Receiver) OnOutcome(c engine.Control) { r.core.onOutcome(c) }

// servers are the running servers of one Run.
type servers struct {
	grpc      *grpc.Server
	grpcConns *connSet
	http      *http.Server
	httpConns *connSet
	failed    chan error // a server stopped on its own (listener failure)
	wg        sync.WaitGroup
}

// Run serves until ctx ends, then drains: listeners close, requests in
// flight are resolved from their outcomes, and Run returns when all are
// answered. When fx.Aborted() closes (the shutdown deadline), every request
// still waiting is answered UNAVAILABLE / 503 at once, connections are
// closed and Run returns.
func (r *Receiver) Run(ctx context.Context, fx engine.ReceiverEffects) error {
	r.core.fx = fx
	srv, err := r.start(ctx, fx)
	if err != nil {
		return err
	}
	if srv.grpc != nil {
		defer otlpgrpc.ReserveDecompression(r.decompressionShare())()
	}
	var runErr error
	select {
	case <-ctx.Done():
	case <-fx.Aborted():
	case err := <-srv.failed:
		runErr = fmt.Errorf("%s %q: %w", Type, r.name, err)
	}
	r.core.draining.Store(true)
	r.logger.Info("otlp receiver draining", "in_flight", r.core.waiters.len())

	graceful := make(chan struct{})
	go func() {
		defer close(graceful)
		var wg sync.WaitGroup
		if srv.grpc != nil {
			wg.Go(srv.grpc.GracefulStop) // refuse new calls, wait for the running ones
		}
		if srv.http != nil {
			wg.Go(func() { _ = srv.http.Shutdown(context.Background()) })
		}
		wg.Wait()
	}()
	// Connections that carry no request would hold the graceful stop.
	if srv.http != nil {
		srv.httpConns.closeFresh()
	}
	if srv.grpc != nil {
		srv.grpcConns.closeSilent()
	}
	select {
	case <-graceful:
	case <-fx.Aborted():
		// Waiting requests watch Aborted and answer UNAVAILABLE now; once
		// they have, close every connection (bodies still being read
		// included) so that the graceful stop ends too.
		<-r.core.admitting.wait()
		if srv.grpc != nil {
			srv.grpcConns.closeAll() // Stop waits for handshakes otherwise
			srv.grpc.Stop()
		}
		if srv.http != nil {
			_ = srv.http.Close()
		}
		<-graceful
	}
	srv.wg.Wait()
	<-r.core.serving.wait() // handlers outlive Stop and Close by a little
	r.logger.Info("otlp receiver stopped")
	return runErr
}

// decompressionShare is what the receiver adds to the process's gRPC
// decompression gate (grpc-go decompresses a message before the handler
// can charge it): its byte budget, but at least one message of
// max_request_size, as the budget lets one request alone exceed it; with
// no budget, no bound.
func (r *Receiver) decompressionShare() int64 {
	if r.core.maxBytes <= 0 {
		return 1 << 50
	}
	return max(r.core.maxBytes, int64(r.grpc.st.maxSize))
}

// start opens the listeners and starts serving. On error nothing is left
// open.
func (r *Receiver) start(ctx context.Context, fx engine.ReceiverEffects) (*servers, error) {
	srv := &servers{failed: make(chan error, 2)}
	var gl, hl net.Listener
	var err error
	if r.grpc != nil {
		if gl, err = fx.Listen(ctx, "tcp", r.grpc.st.addr); err != nil {
			return nil, fmt.Errorf("%s %q: grpc: %w", Type, r.name, err)
		}
	}
	if r.http != nil {
		if hl, err = fx.Listen(ctx, "tcp", r.http.st.addr); err != nil {
			if gl != nil {
				_ = gl.Close()
			}
			return nil, fmt.Errorf("%s %q: http: %w", Type, r.name, err)
		}
	}
	if gl != nil {
		var creds credentials.TransportCredentials
		if r.grpc.tls != nil {
			creds = credentials.NewTLS(r.grpc.tls)
		}
		srv.grpc, _ = newGRPCServer(r.core, r.grpc.st, creds)
		srv.grpcConns = trackConns(gl, protoGRPC, r.grpc.st.maxConns, r.core.metrics)
		srv.wg.Go(func() {
			if err := srv.grpc.Serve(srv.grpcConns); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				srv.failed <- fmt.Errorf("grpc: %w", err)
			}
		})
		r.logger.Info("otlp receiver listening", "protocol", "grpc", "addr", gl.Addr().String(), "tls", r.grpc.tls != nil,
			"max_connections", r.grpc.st.maxConns, "process_connection_limit", processConnLimit())
	}
	if hl != nil {
		srv.http = r.newHTTPServer()
		srv.httpConns = trackConns(hl, protoHTTP, r.http.st.maxConns, r.core.metrics)
		srv.http.ConnState = srv.httpConns.trackHTTP
		srv.wg.Go(func() {
			var err error
			if srv.http.TLSConfig != nil {
				err = srv.http.ServeTLS(srv.httpConns, "", "")
			} else {
				err = srv.http.Serve(srv.httpConns)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				srv.failed <- fmt.Errorf("http: %w", err)
			}
		})
		r.logger.Info("otlp receiver listening", "protocol", "http", "addr", hl.Addr().String(), "tls", r.http.tls != nil,
			"max_connections", r.http.st.maxConns, "process_connection_limit", processConnLimit())
	}
	return srv, nil
}

func (r *Receiver) newHTTPServer() *http.Server {
	st := r.http.st
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	return &http.Server{
		Handler:           &httpHandler{core: r.core, st: st, lim: limiter{max: int64(st.maxConcurrent)}},
		TLSConfig:         r.http.tls,
		Protocols:         &protocols,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          st.connStreams(),
			MaxReceiveBufferPerConnection: h2ConnWindow,
			MaxReceiveBufferPerStream:     h2StreamWindow,
		},
		ErrorLog: slog.NewLogLogger(r.logger.Handler(), slog.LevelDebug),
	}
}
