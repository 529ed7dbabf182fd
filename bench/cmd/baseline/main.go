// Command baseline is the yardstick of ackflow's side-by-side benchmarks: the
// least work a Go program can do to take OTLP/gRPC logs, check them and
// answer, or forward them and answer after the destination did. ackflow's
// speed goal is half of it (docs/ENGINE.md, "Bytes, not objects"), so
// bench/cmd/compare runs it beside ackflow and the Collector.
//
// It serves LogsService/Export through a hand-written grpc.ServiceDesc and a
// codec named "proto" that hands over grpc-go's own receive buffers (one per
// HTTP/2 DATA frame): a request is never copied and never unmarshalled. A
// protobuf wire walk across those buffers checks the framing down to the log
// records (ExportLogsServiceRequest → ResourceLogs → ScopeLogs → LogRecord)
// and counts them; bad framing is answered INVALID_ARGUMENT.
//
//	-mode ack                          walk, answer (the passthrough hop)
//	-mode forward -to 127.0.0.1:PORT   walk, send the same buffers over one
//	                                   connection, answer once it answered
//
// -admin serves /metrics (counters) and /debug/pprof/. Every address must be
// a loopback IP. On SIGTERM or SIGINT it answers what is in flight and prints
// its counters.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

const exportMethod = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

// Transport tuning, the same on both sides of the hop: 1 MiB socket buffers
// batch reads and writes of ~240 KB requests, and 16 MiB HTTP/2 windows keep
// flow control (and grpc-go's window probing) from pacing a loopback link.
const (
	bufSize    = 1 << 20
	windowSize = 16 << 20
	maxMsgSize = 64 << 20 // ackflow's receiver accepts as much
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "baseline: %v\n", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct{ mode, listen, to, admin string }

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.StringVar(&c.mode, "mode", "ack", "ack (walk and answer) or forward (walk, send to -to, answer after it)")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:4317", "OTLP/gRPC listen address (loopback IP)")
	fs.StringVar(&c.to, "to", "", "forward destination, OTLP/gRPC (loopback IP; -mode forward)")
	fs.StringVar(&c.admin, "admin", "", "serve /metrics and /debug/pprof/ on this address (loopback IP; empty: none)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if (c.mode == "forward") != (c.to != "") || (c.mode != "ack" && c.mode != "forward") {
		return c, fmt.Errorf("-mode %q -to %q: use -mode ack, or -mode forward with -to", c.mode, c.to)
	}
	for _, a := range []string{c.listen, c.to, c.admin} {
		if a == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return c, fmt.Errorf("address %q: only loopback IP addresses are allowed (this is a benchmark tool)", a)
		}
	}
	return c, nil
}

// run serves until ctx ends, then prints the totals on out.
func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	b, err := newBaseline(cfg)
	if err != nil {
		return err
	}
	defer b.close()
	lis, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- b.srv.Serve(lis) }()
	if cfg.admin != "" {
		admin := &http.Server{Addr: cfg.admin, Handler: b.adminMux(), ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- admin.ListenAndServe() }()
		defer admin.Close()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	// Answer what is in flight (bounded: a stuck downstream must not
	// hold the runner), then report.
	t := time.AfterFunc(5*time.Second, b.srv.Stop)
	b.srv.GracefulStop()
	t.Stop()
	_, err = io.WriteString(out, b.counters())
	return err
}

// baseline is the server and, in forward mode, its one downstream connection.
type baseline struct {
	srv  *grpc.Server
	next *grpc.ClientConn // nil in ack mode

	requests, records, rejected, forwardErrors atomic.Int64
}

func newBaseline(cfg config) (*baseline, error) {
	b := &baseline{}
	if cfg.mode == "forward" {
		conn, err := grpc.NewClient(cfg.to,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallRecvMsgSize(maxMsgSize)),
			grpc.WithReadBufferSize(bufSize), grpc.WithWriteBufferSize(bufSize),
			grpc.WithInitialWindowSize(windowSize), grpc.WithInitialConnWindowSize(windowSize))
		if err != nil {
			return nil, err
		}
		b.next = conn
	}
	b.srv = grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}), grpc.MaxRecvMsgSize(maxMsgSize),
		grpc.ReadBufferSize(bufSize), grpc.WriteBufferSize(bufSize),
		grpc.InitialWindowSize(windowSize), grpc.InitialConnWindowSize(windowSize))
	b.srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.logs.v1.LogsService",
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: b.export}},
	}, struct{}{})
	return b, nil
}

func (b *baseline) close() {
	b.srv.Stop()
	if b.next != nil {
		b.next.Close()
	}
}

// export is the Export handler: walk, then answer or forward.
func (b *baseline) export(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	var req mem.BufferSlice
	if err := dec(&req); err != nil {
		return nil, err
	}
	defer req.Free() // ours; a forward's transport holds its own while writing
	b.requests.Add(1)
	n, err := countRecords(req)
	if err != nil {
		b.rejected.Add(1)
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if b.next != nil {
		var resp mem.BufferSlice
		// ctx carries the client's deadline and cancellation downstream.
		if err := b.next.Invoke(ctx, exportMethod, &req, &resp); err != nil {
			b.forwardErrors.Add(1)
			return nil, err // its status, code and message as they came
		}
		b.records.Add(int64(n))
		// A partial success is the downstream's to report: pass it on.
		out := mem.BufferSlice{mem.SliceBuffer(resp.Materialize())}
		resp.Free()
		return &out, nil
	}
	b.records.Add(int64(n))
	return &mem.BufferSlice{}, nil // an empty ExportLogsServiceResponse
}

// counters are what /metrics serves and the exit line prints.
func (b *baseline) counters() string {
	return fmt.Sprintf("baseline_requests_total %d\nbaseline_items_total %d\nbaseline_rejected_total %d\nbaseline_forward_errors_total %d\n",
		b.requests.Load(), b.records.Load(), b.rejected.Load(), b.forwardErrors.Load())
}

func (b *baseline) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, b.counters()) })
	mux.HandleFunc("/debug/pprof/", pprof.Index) // heap, goroutine, allocs...
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	return mux
}

// rawCodec moves messages as *mem.BufferSlice: Unmarshal keeps grpc-go's
// buffers (one more reference, freed by the handler), Marshal sends them
// (one more reference, freed by the transport once written).
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*mem.BufferSlice)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
	}
	m.Ref()
	return *m, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*mem.BufferSlice)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	data.Ref()
	*m = data
	return nil
}

var errFraming = errors.New("malformed OTLP logs request")

// countRecords walks a request split across buffers and counts its records.
func countRecords(bufs mem.BufferSlice) (int, error) {
	w := walker{bufs: bufs}
	return w.message(bufs.Len(), 0)
}

// walker reads a message split across buffers, never copying it.
type walker struct {
	bufs mem.BufferSlice
	cur  []byte // what is left of the buffer being read
	next int    // index of the buffer after cur
	pos  int    // bytes consumed from the start of the request
}

// fill makes cur non-empty, or reports that the request has ended.
func (w *walker) fill() bool {
	for len(w.cur) == 0 && w.next < len(w.bufs) {
		w.cur = w.bufs[w.next].ReadOnlyData()
		w.next++
	}
	return len(w.cur) > 0
}

// varint reads a varint of at most 10 bytes whose value fits 64 bits.
func (w *walker) varint() (uint64, error) {
	if len(w.cur) > 0 && w.cur[0] < 0x80 { // keys and most lengths: one byte
		v := uint64(w.cur[0])
		w.cur, w.pos = w.cur[1:], w.pos+1
		return v, nil
	}
	var v uint64
	for i := 0; i < 10 && w.fill(); i++ {
		c := w.cur[0]
		w.cur, w.pos = w.cur[1:], w.pos+1
		if i == 9 && c > 1 {
			break
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: bad varint at byte %d", errFraming, w.pos)
}

// skip moves n bytes on; the caller checked that they are in the message.
func (w *walker) skip(n int) {
	w.pos += n
	for n > 0 && w.fill() {
		k := min(n, len(w.cur))
		w.cur, n = w.cur[k:], n-k
	}
}

// itemField is the field walked into at each depth: resource_logs (1) of
// the request, scope_logs (2) of a ResourceLogs, log_records (2) of a
// ScopeLogs, which are counted, not entered.
var itemField = [3]uint64{1, 2, 2}

// message walks the fields of a message ending at byte end of the request.
func (w *walker) message(end, depth int) (int, error) {
	n := 0
	for w.pos < end {
		at := w.pos
		key, err := w.varint()
		if err != nil {
			return 0, err
		}
		field, size := key>>3, 0
		if field == 0 || field > 1<<29-1 {
			return 0, fmt.Errorf("%w: field number %d at byte %d", errFraming, field, at)
		}
		if field == itemField[depth] && key&7 != 2 {
			return 0, fmt.Errorf("%w: field %d at byte %d is not a message", errFraming, field, at)
		}
		switch key & 7 {
		case 0:
			_, err = w.varint()
		case 1:
			size = 8
		case 5:
			size = 4
		case 2:
			var l uint64
			if l, err = w.varint(); err != nil {
				return 0, err
			}
			if l > uint64(max(end-w.pos, 0)) {
				return 0, fmt.Errorf("%w: field %d at byte %d is longer than its message", errFraming, field, at)
			}
			size = int(l)
			switch {
			case field != itemField[depth]:
			case depth == 2:
				n++
			default:
				k, err := w.message(w.pos+size, depth+1)
				if err != nil {
					return 0, err
				}
				n, size = n+k, 0
			}
		default: // groups (3, 4) are not proto3; 6 and 7 do not exist
			return 0, fmt.Errorf("%w: wire type %d at byte %d", errFraming, key&7, at)
		}
		if err != nil || size > end-w.pos {
			return 0, fmt.Errorf("%w: field %d at byte %d runs past the end of its message", errFraming, field, at)
		}
		w.skip(size)
	}
	return n, nil // every field ended within the message: w.pos == end
}
