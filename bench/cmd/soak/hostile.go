package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/internal/testsink"
	"github.com/ackflow/ackflow/nodes/receivers/otlp/hostiletest"
)

// hostileWait bounds one hostile request: above the receivers' 10s body
// deadline.
const hostileWait = 30 * time.Second

// hostileConcurrency is how many hostile clients run at once.
const hostileConcurrency = 3

// answer is how one hostile request ended: refused with an error (code),
// accepted (ok), left without an answer on an open connection (hung), or
// never served because the process was down (down).
type answer struct {
	code string // "grpc InvalidArgument", "http 400", "connection closed by the server", ...
	ok   bool
	hung bool
	down bool
}

// closedByServer is the code of a connection the server closed without an
// answer: the client sees an error, as with a refusal.
const closedByServer = "connection closed by the server"

func refusedBy(code string) answer { return answer{code: code} }

func grpcAnswer(code int) answer {
	if code == int(codes.OK) {
		return answer{ok: true}
	}
	return refusedBy("grpc " + codes.Code(code).String())
}

func httpAnswer(status int) answer {
	if status == http.StatusOK {
		return answer{ok: true}
	}
	return refusedBy(fmt.Sprintf("http %d", status))
}

// failedAnswer classifies a client-side failure.
func failedAnswer(err error) answer {
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(msg, " within "):
		return answer{hung: true}
	case strings.Contains(msg, "connection refused"):
		return answer{down: true}
	}
	return refusedBy(closedByServer)
}

// hostileRun is one hostile client's world.
type hostileRun struct {
	t    *tb
	rng  *rand.Rand
	tg   targets
	pipe int
	n    int // its number, for tags
	s    *soak
	ctx  context.Context // ends the waits that only hold resources (idle connections)
}

func (h *hostileRun) grpcAddr() string { return h.tg.grpc[h.pipe] }
func (h *hostileRun) httpAddr() string { return strings.TrimPrefix(h.tg.http[h.pipe], "http://") }

// keyed builds a request with item keys whose tag marks it hostile; the
// check makes sure none of its items reached a sink.
func (h *hostileRun) keyed() testsink.Request {
	sig := h.rng.IntN(3)
	r := testsink.NewRequest(signals[sig], fmt.Sprintf("hostile.%d", h.n), 8)
	h.s.hostile.addKeyed(r)
	return r
}

// hostileKind is a kind of hostile client: run returns the answer of
// each request it made, and the idle connections it held.
type hostileKind struct {
	name string
	run  func(h *hostileRun) (answers []answer, conns int)
}

var grpcServices = map[string]string{
	testsink.SignalLogs:    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
	testsink.SignalMetrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
	testsink.SignalTraces:  "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}

var hostileKinds = []hostileKind{
	{"deep nesting, gRPC protobuf", func(h *hostileRun) ([]answer, int) {
		return one(rawGRPC(h.grpcAddr(), grpcServices[testsink.SignalLogs], "", deepLogs(65+h.rng.IntN(20_000))))
	}},
	{"deep nesting, HTTP JSON", func(h *hostileRun) ([]answer, int) {
		return one(postRaw(h.tg.http[h.pipe]+"/v1/logs", "application/json", "", deepJSON(65+h.rng.IntN(100_000))))
	}},
	{"truncated protobuf, gRPC", func(h *hostileRun) ([]answer, int) {
		r := h.keyed()
		b := r.Proto()
		return one(rawGRPC(h.grpcAddr(), grpcServices[r.Signal], "", b[:len(b)-1-h.rng.IntN(8)]))
	}},
	{"truncated protobuf, HTTP", func(h *hostileRun) ([]answer, int) {
		r := h.keyed()
		b := r.Proto()
		return one(postRaw(h.tg.http[h.pipe]+"/v1/"+r.Signal, "application/x-protobuf", "", b[:len(b)-1-h.rng.IntN(8)]))
	}},
	{"trailing garbage / two documents / bad UTF-8, JSON", func(h *hostileRun) ([]answer, int) {
		r := h.keyed()
		doc := r.JSON()
		var body []byte
		switch h.rng.IntN(3) {
		case 0:
			body = append(doc, "garbage"...)
		case 1:
			body = append(append(append([]byte(nil), doc...), '\n'), doc...)
		default:
			body = append(append(doc[:len(doc)-1:len(doc)-1], `,"x":"`+"\xff\xfe"+`"`...), '}')
		}
		return one(postRaw(h.tg.http[h.pipe]+"/v1/"+r.Signal, "application/json", "", body))
	}},
	{"corrupt gzip, gRPC", func(h *hostileRun) ([]answer, int) {
		body := []byte("this is not compressed")
		if h.rng.IntN(2) == 0 {
			full := gzipBytes(h.keyed().Proto())
			body = full[:len(full)/2]
		}
		return one(rawGRPC(h.grpcAddr(), grpcServices[testsink.SignalLogs], "gzip", body))
	}},
	{"JSON amplification bomb", func(h *hostileRun) ([]answer, int) {
		return one(postRaw(h.tg.http[h.pipe]+"/v1/logs", "application/json", "gzip", jsonBomb()))
	}},
	{"gRPC streams without data", func(h *hostileRun) ([]answer, int) {
		c := hostiletest.DialGRPC(h.t, h.grpcAddr())
		var ids []uint32
		for range 4 + h.rng.IntN(29) {
			ids = append(ids, c.Open(hostiletest.LogsExport))
		}
		var out []answer
		for _, id := range ids {
			out = append(out, streamAnswer(c.WaitAnswer(id)))
		}
		return out, 0
	}},
	{"stalled large gRPC body", func(h *hostileRun) ([]answer, int) {
		c := hostiletest.DialGRPC(h.t, h.grpcAddr())
		id := c.Open(hostiletest.LogsExport)
		c.SendPrefix(id, 8<<20)
		c.Fill(id, int64(64+h.rng.IntN(448))<<10)
		return []answer{streamAnswer(c.WaitAnswer(id))}, 0
	}},
	{"stalled gzip bomb, HTTP", func(h *hostileRun) ([]answer, int) {
		p := hostiletest.PostStalled(h.t, h.httpAddr(), "/v1/logs", "gzip", gzipBomb())
		return []answer{trickleAnswer(p.Result())}, 0
	}},
	{"trickled body, HTTP", func(h *hostileRun) ([]answer, int) {
		tr := hostiletest.Trickle(h.t, h.httpAddr(), "/v1/logs", 2000, time.Duration(10+h.rng.IntN(90))*time.Millisecond)
		return []answer{trickleAnswer(tr.Result())}, 0
	}},
	{"idle connections", func(h *hostileRun) ([]answer, int) {
		addr := h.grpcAddr()
		if h.rng.IntN(2) == 0 {
			addr = h.httpAddr()
		}
		conns, _ := hostiletest.IdleConns(h.t, addr, 50+h.rng.IntN(200)) // some dials may fail at a cap
		sleepCtx(h.ctx, between(h.rng, 5*time.Second, 15*time.Second))
		return nil, len(conns) // closed by the cleanup
	}},
}

func one(a answer) ([]answer, int) { return []answer{a}, 0 }

func streamAnswer(a hostiletest.Answer) answer {
	if a.Status < 0 {
		return refusedBy("h2 RST_STREAM " + a.Reset.String())
	}
	return grpcAnswer(a.Status)
}

func trickleAnswer(c <-chan hostiletest.TrickleResult) answer {
	select {
	case r := <-c:
		if r.Err != nil {
			return failedAnswer(r.Err)
		}
		return httpAnswer(r.Status)
	case <-time.After(hostileWait):
		return answer{hung: true}
	}
}

// hostileStats counts what the hostile clients got.
type hostileStats struct {
	mu    sync.Mutex
	kinds map[string]*kindStats
	keyed []testsink.Request // requests whose items must never reach a sink
}

type kindStats struct {
	runs, requests, conns              int
	refused, accepted, hung, restarted int
	answers                            map[string]int
}

func (hs *hostileStats) addKeyed(r testsink.Request) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.keyed = append(hs.keyed, r)
}

// record counts one hostile run. restarted says the process was stopped
// or restarted while it ran: what had no answer is put down to that.
func (hs *hostileStats) record(kind string, answers []answer, conns int, restarted bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.kinds == nil {
		hs.kinds = map[string]*kindStats{}
	}
	k := hs.kinds[kind]
	if k == nil {
		k = &kindStats{answers: map[string]int{}}
		hs.kinds[kind] = k
	}
	k.runs++
	k.conns += conns
	for _, a := range answers {
		k.requests++
		switch {
		case a.ok:
			k.accepted++
		case restarted && (a.hung || a.down || a.code == closedByServer):
			k.restarted++
		case a.hung:
			k.hung++
		case a.down:
			k.restarted++ // connection refused: the listener was closed (a drain, or between lives)
		default:
			k.refused++
			k.answers[a.code]++
		}
	}
}

// hostileTotals are the hostile clients' outcomes summed over kinds.
type hostileTotals struct {
	runs, requests, conns              int
	refused, accepted, hung, restarted int
}

func (hs *hostileStats) totals() hostileTotals {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var t hostileTotals
	for _, k := range hs.kinds {
		t.runs += k.runs
		t.requests += k.requests
		t.conns += k.conns
		t.refused += k.refused
		t.accepted += k.accepted
		t.hung += k.hung
		t.restarted += k.restarted
	}
	return t
}

// hostileLoop starts a hostile client every 0.5-2.5 s, at most
// hostileConcurrency at once, against a random pipeline's receiver, until
// ctx ends; then it waits for the running ones (each bounded).
func (s *soak) hostileLoop(ctx context.Context, kinds []hostileKind) {
	rng := rand.New(rand.NewPCG(s.opt.seed, 2000))
	sem := make(chan struct{}, hostileConcurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for n := 0; ; n++ {
		if !sleepCtx(ctx, between(rng, 500*time.Millisecond, 2500*time.Millisecond)) {
			return
		}
		kind := kinds[rng.IntN(len(kinds))]
		pipe := rng.IntN(2)
		sub := rand.New(rand.NewPCG(s.opt.seed, 3000+uint64(n)))
		t := s.targets.Load()
		if t == nil {
			continue // between two lives
		}
		select {
		case sem <- struct{}{}:
		default:
			continue // enough running
		}
		wg.Go(func() {
			defer func() { <-sem }()
			s.runHostile(ctx, kind, *t, pipe, sub, n)
		})
	}
}

// runHostile runs one hostile client and records its answers. A failure
// of hostiletest (its dial refused, its connection closed, a wait over
// hostiletest.Wait) ends the run with that failure as its last answer.
func (s *soak) runHostile(ctx context.Context, kind hostileKind, tg targets, pipe int, rng *rand.Rand, n int) {
	t := &tb{}
	defer t.cleanup()
	var answers []answer
	conns := 0
	func() {
		defer func() {
			if r := recover(); r != nil {
				fe, ok := r.(fatalError)
				if !ok {
					panic(r)
				}
				answers = append(answers, failedAnswer(fe))
			}
		}()
		answers, conns = kind.run(&hostileRun{t: t, rng: rng, tg: tg, pipe: pipe, n: n, s: s, ctx: ctx})
	}()
	cur := s.targets.Load()
	restarted := cur == nil || cur.life != tg.life || s.stopping.Load() == int64(tg.life)
	for _, a := range answers {
		switch {
		case a.ok:
			s.event("HOSTILE REQUEST ACCEPTED: %s to %s (life %d)", kind.name, pipelineNames[pipe], tg.life)
		case a.hung && !restarted:
			s.event("hostile request left without an answer for %s: %s to %s (life %d)", hostileWait, kind.name, pipelineNames[pipe], tg.life)
		}
	}
	s.hostile.record(kind.name, answers, conns, restarted)
}

// rawGRPC sends one message to method over h2c without grpc-go (whose
// clients marshal and compress by themselves): with enc set the message
// is flagged compressed with grpc-encoding enc.
func rawGRPC(addr, method, enc string, msg []byte) answer {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	frame := make([]byte, 5, 5+len(msg))
	if enc != "" {
		frame[0] = 1
	}
	n := len(msg)
	frame[1], frame[2], frame[3], frame[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	frame = append(frame, msg...)
	ctx, cancel := context.WithTimeout(context.Background(), hostileWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+method, bytes.NewReader(frame))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	if enc != "" {
		req.Header.Set("Grpc-Encoding", enc)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return failedAnswer(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	st := resp.Trailer.Get("Grpc-Status")
	if st == "" { // a trailers-only answer
		st = resp.Header.Get("Grpc-Status")
	}
	var code int
	if _, err := fmt.Sscan(st, &code); err != nil {
		return refusedBy(fmt.Sprintf("http %d without grpc-status", resp.StatusCode))
	}
	return grpcAnswer(code)
}

// postRaw posts body to url and returns the answer.
func postRaw(url, ctype, enc string, body []byte) answer {
	ctx, cancel := context.WithTimeout(context.Background(), hostileWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", ctype)
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return failedAnswer(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return httpAnswer(resp.StatusCode)
}

// deepLogs is an ExportLogsServiceRequest whose one record's body nests
// levels AnyValues through array_value, built outside-in in one pass.
func deepLogs(levels int) []byte {
	sizes := make([]int, levels) // payload of the AnyValue at level i+1
	for i := levels - 2; i >= 0; i-- {
		arr := 1 + protowire.SizeVarint(uint64(sizes[i+1])) + sizes[i+1]
		sizes[i] = 1 + protowire.SizeVarint(uint64(arr)) + arr
	}
	body := make([]byte, 0, sizes[0])
	for i := 0; i < levels-1; i++ {
		arr := 1 + protowire.SizeVarint(uint64(sizes[i+1])) + sizes[i+1]
		body = protowire.AppendVarint(append(body, 5<<3|2), uint64(arr))        // AnyValue.array_value
		body = protowire.AppendVarint(append(body, 1<<3|2), uint64(sizes[i+1])) // ArrayValue.values
	}
	wrap := func(num protowire.Number, b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), b)
	}
	// request.resource_logs > scope_logs > log_records > body
	return wrap(1, wrap(2, wrap(2, wrap(5, body))))
}

// deepJSON is the same request in OTLP/JSON.
func deepJSON(levels int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":`)
	for range levels - 1 {
		b.WriteString(`{"arrayValue":{"values":[`)
	}
	b.WriteString(`{"stringValue":"x"}`)
	for range levels - 1 {
		b.WriteString(`]}}`)
	}
	b.WriteString(`}]}]}]}`)
	return b.Bytes()
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// jsonBomb is a few KB of gzip holding 6 MiB of empty log records, whose
// decoded form would far exceed max_request_size.
var jsonBomb = sync.OnceValue(func() []byte {
	const n = 2 << 20
	var b bytes.Buffer
	b.WriteString(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[`)
	b.WriteString(strings.Repeat("{},", n-1))
	b.WriteString(`{}]}]}]}`)
	return gzipBytes(b.Bytes())
})

// gzipBomb is about 64 KB of gzip inflating to 64 MiB of zeros.
var gzipBomb = sync.OnceValue(func() []byte { return hostiletest.GzipBomb(64 << 20) })
