package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/internal/testsink"
)

// clientTimeout bounds one normal request: above the receivers' 10s
// timeout, so that a client gets the receiver's answer.
const clientTimeout = 20 * time.Second

var signals = [3]string{testsink.SignalLogs, testsink.SignalMetrics, testsink.SignalTraces}

// result is one normal request, compact: its keys are rebuilt from the
// tag at the check (testsink.NewRequest is deterministic), so that the
// soak holds no key it does not need.
type result struct {
	pipe, client uint8
	signal       uint8
	items        uint8
	seq          uint32
	code         string // "" for OK, else "grpc Unavailable", "http 503", ...
}

// tag is the request's tag: its item keys are unique to it.
func tag(pipe, client int, seq uint32) string {
	return fmt.Sprintf("soak.%s.c%d.r%d", pipelineNames[pipe], client, seq)
}

func (r result) request() testsink.Request {
	return testsink.NewRequest(signals[r.signal], tag(int(r.pipe), int(r.client), r.seq), int(r.items))
}

// traffic records the normal clients' requests and gates them.
type traffic struct {
	sent, ok, failed [2]atomic.Int64
	inFlight         [2]atomic.Int64 // requests sent and not answered yet
	paused           [2]atomic.Bool  // a paused pipeline's clients start no request

	mu       sync.Mutex
	results  []result
	messages [2]map[string]map[string]int // per pipeline, code → normalized message → count
	lastOK   [2]time.Time
	okLife   [2]int
	maxGap   [2]time.Duration // longest time between two OKs within one process life
}

func (tr *traffic) record(r result, life int, msg string) {
	p := r.pipe
	if r.code != "" {
		tr.failed[p].Add(1)
	} else {
		tr.ok[p].Add(1)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.results = append(tr.results, r)
	if r.code != "" {
		if tr.messages[p] == nil {
			tr.messages[p] = map[string]map[string]int{}
		}
		if tr.messages[p][r.code] == nil {
			tr.messages[p][r.code] = map[string]int{}
		}
		tr.messages[p][r.code][normalize(msg)]++
		return
	}
	now := time.Now()
	if tr.okLife[p] == life && !tr.lastOK[p].IsZero() {
		tr.maxGap[p] = max(tr.maxGap[p], now.Sub(tr.lastOK[p]))
	}
	tr.lastOK[p], tr.okLife[p] = now, life
}

// resetGap forgets the last OK of pipe, so that a pause the soak made
// (a SIGKILL window) does not count as a gap.
func (tr *traffic) resetGap(pipe int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.lastOK[pipe] = time.Time{}
}

// waitIdle waits until pipe has no request in flight, up to d.
func (tr *traffic) waitIdle(pipe int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for tr.inFlight[pipe].Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// clientSpec says what a normal client sends where.
type clientSpec struct {
	id   int
	pipe int
	http bool
}

func (c clientSpec) String() string {
	proto := "gRPC"
	if c.http {
		proto = "HTTP"
	}
	return fmt.Sprintf("c%d→%s/%s", c.id, pipelineNames[c.pipe], proto)
}

// clientSpecs alternates pipeline and protocol: c0 fanout gRPC, c1 durable
// gRPC, c2 fanout HTTP, c3 durable HTTP, ...
func clientSpecs(n int) []clientSpec {
	var out []clientSpec
	for i := range n {
		out = append(out, clientSpec{id: i, pipe: i % 2, http: (i/2)%2 == 1})
	}
	return out
}

// client sends one request at a time, -rate per second, to the current
// process life, until ctx ends; the request in progress then still gets
// its answer.
func (s *soak) client(ctx context.Context, c clientSpec) {
	rng := rand.New(rand.NewPCG(s.opt.seed, 1000+uint64(c.id)))
	tick := time.NewTicker(time.Duration(float64(time.Second) / s.opt.rate))
	defer tick.Stop()
	var conn *grpc.ClientConn
	connAddr := ""
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	hc := &http.Client{Timeout: clientTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}}
	defer hc.CloseIdleConnections()
	tr := &s.traffic
	for seq := uint32(0); ; {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t := s.targets.Load()
		if t == nil {
			continue // between two lives
		}
		tr.inFlight[c.pipe].Add(1) // before the pause check: see pause
		if tr.paused[c.pipe].Load() {
			tr.inFlight[c.pipe].Add(-1)
			continue
		}
		r := result{pipe: uint8(c.pipe), client: uint8(c.id), signal: uint8(rng.IntN(3)), items: uint8(4 + rng.IntN(9)), seq: seq}
		seq++
		req := r.request()
		tr.sent[c.pipe].Add(1)
		var msg string
		if c.http {
			r.code, msg = postHTTP(hc, t.http[c.pipe], req, rng.IntN(3) == 0)
		} else {
			if t.grpc[c.pipe] != connAddr {
				if conn != nil {
					_ = conn.Close()
				}
				var err error
				if conn, err = grpc.NewClient(t.grpc[c.pipe], grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
					panic(err) // only for a malformed target, which the soak never builds
				}
				connAddr = t.grpc[c.pipe]
			}
			rctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
			if err := req.Export(rctx, conn); err != nil {
				r.code, msg = "grpc "+status.Code(err).String(), status.Convert(err).Message()
			}
			cancel()
		}
		tr.inFlight[c.pipe].Add(-1)
		tr.record(r, t.life, msg)
	}
}

// postHTTP posts req to base as OTLP/HTTP protobuf or JSON and returns ""
// for a 200, else what the client saw and the answer's message.
func postHTTP(hc *http.Client, base string, req testsink.Request, asJSON bool) (code, msg string) {
	body, ctype := req.Proto(), "application/x-protobuf"
	if asJSON {
		body, ctype = req.JSON(), "application/json"
	}
	hr, err := http.NewRequest(http.MethodPost, base+"/v1/"+req.Signal, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	hr.Header.Set("Content-Type", ctype)
	resp, err := hc.Do(hr)
	if err != nil {
		return "http " + transportError(err), err.Error()
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return "", ""
	}
	return fmt.Sprintf("http %d", resp.StatusCode), statusMessage(resp.Header.Get("Content-Type"), b)
}

// statusMessage is the message of an OTLP/HTTP error body, a
// google.rpc.Status in protobuf (field 2) or JSON.
func statusMessage(ctype string, b []byte) string {
	if strings.HasPrefix(ctype, "application/json") {
		var st struct{ Message string }
		if json.Unmarshal(b, &st) == nil && st.Message != "" {
			return st.Message
		}
		return string(b)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		b = b[n:]
		if num == 2 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m >= 0 {
				return string(v)
			}
			break
		}
		if m := protowire.ConsumeFieldValue(num, typ, b); m >= 0 {
			b = b[m:]
			continue
		}
		break
	}
	return string(b)
}

var (
	addrRe  = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	otherRe = regexp.MustCompile(`[^[:print:]]+`)
)

// normalize makes error messages of one kind equal: no ports, no binary
// framing (an HTTP answer's google.rpc.Status), at most 120 characters.
func normalize(msg string) string {
	msg = strings.TrimSpace(otherRe.ReplaceAllString(addrRe.ReplaceAllString(msg, "127.0.0.1:PORT"), " "))
	if r := []rune(msg); len(r) > 120 {
		msg = string(r[:120]) + "…"
	}
	return msg
}

// transportError names a client-side error coarsely.
func transportError(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	}
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "transport error"
}
