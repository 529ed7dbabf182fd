package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/components"
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Bounds of every wait in this package. They are far above what a healthy
// run needs (milliseconds) so that a loaded machine does not fail a test,
// and far below the go test timeout so that a hang fails with a message.
const (
	waitLimit          = 15 * time.Second       // any condition, any client call
	drainDeadline      = 10 * time.Second       // eng.Shutdown of a test's engine
	drainDeadlineShort = 500 * time.Millisecond // a drain meant to reach its deadline
	pollEvery          = 2 * time.Millisecond
)

// registry is the node registry of the ackflow binary.
func registry() *engine.Registry { return components.Registry() }

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitLimit, what)
		}
		<-tick.C
	}
}

// recv receives from c, failing the test after waitLimit.
func recv[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out after %s waiting for %s", waitLimit, what)
		panic("unreachable")
	}
}

// callCtx is the context of one client call.
func callCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// ---------------------------------------------------------------------------
// Engine logs

// logBook is a slog handler's store: every record as text (printed when a
// test fails), the receivers' bound addresses and a count per message, with
// a broadcast channel for those who wait on them.
type logBook struct {
	mu      sync.Mutex
	text    bytes.Buffer
	addrs   map[string]string // "node/protocol" → host:port
	seen    map[string]int    // message → records
	changed chan struct{}     // closed and replaced on every record
}

func newLogBook() *logBook {
	return &logBook{addrs: map[string]string{}, seen: map[string]int{}, changed: make(chan struct{})}
}

func (b *logBook) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.text.String()
}

// wait waits until cond (called with b.mu held) holds.
func (b *logBook) wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		b.mu.Lock()
		ok, ch := cond(), b.changed
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("timed out after %s waiting for %s; engine logs:\n%s", waitLimit, what, b)
		}
	}
}

// addr waits for the address node listens on for protocol.
func (b *logBook) addr(t testing.TB, node, protocol string) string {
	t.Helper()
	var a string
	b.wait(t, fmt.Sprintf("%s to listen on %s", node, protocol), func() bool {
		a = b.addrs[node+"/"+protocol]
		return a != ""
	})
	return a
}

// waitMessage waits until n records with message msg were logged.
func (b *logBook) waitMessage(t testing.TB, msg string, n int) {
	t.Helper()
	b.wait(t, fmt.Sprintf("%d log records %q", n, msg), func() bool { return b.seen[msg] >= n })
}

type logHandler struct {
	b     *logBook
	attrs []slog.Attr
}

func (h logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{b: h.b, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h logHandler) WithGroup(string) slog.Handler { return h }

func (h logHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := map[string]string{}
	var line strings.Builder
	fmt.Fprintf(&line, "%s %s %q", r.Time.Format("15:04:05.000"), r.Level, r.Message)
	add := func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		fmt.Fprintf(&line, " %s=%s", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	b.text.WriteString(line.String() + "\n")
	b.seen[r.Message]++
	switch r.Message {
	case "otlp receiver listening":
		b.addrs[attrs["node"]+"/"+attrs["protocol"]] = attrs["addr"]
	case "otap receiver listening":
		b.addrs[attrs["node"]+"/otap"] = attrs["addr"]
	}
	close(b.changed)
	b.changed = make(chan struct{})
	return nil
}

// ---------------------------------------------------------------------------
// Engines

// pipe is a running engine with one pipeline whose receiver node is "in".
type pipe struct {
	t        *testing.T
	eng      *engine.Engine
	logs     *logBook
	grpcAddr string // "in"'s gRPC address, if it listens on gRPC
	otapAddr string // "in"'s address, if it is a receiver:otap
	httpURL  string // "in"'s HTTP base URL, if it listens on HTTP

	stopOnce sync.Once
	stopErr  error
	stopped  atomic.Bool // shutdown was called

	beforeStop []func() // run by shutdown before the drain starts
}

// startPipe builds an engine from yaml, starts it and waits for "in" to
// listen on protocols ("grpc", "http", or "otap" for a receiver:otap).
// The engine is shut down at the end of the test if the test did not do
// it.
func startPipe(t *testing.T, yaml string, protocols ...string) *pipe {
	t.Helper()
	reg := registry()
	doc, err := config.Load(t.Name()+".yaml", []byte(yaml), reg)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := newLogBook()
	eng, err := engine.New(doc, reg, engine.Options{Logger: slog.New(logHandler{b: logs})})
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	p := &pipe{t: t, eng: eng, logs: logs}
	eng.Start()
	t.Cleanup(func() {
		if !p.stopped.Load() {
			if err := p.shutdown(drainDeadline); err != nil {
				t.Errorf("engine shutdown at cleanup: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("engine logs:\n%s", logs)
		}
	})
	for _, proto := range protocols {
		switch a := logs.addr(t, "in", proto); proto {
		case "grpc":
			p.grpcAddr = a
		case "otap":
			p.otapAddr = a
		case "http":
			p.httpURL = "http://" + a
		}
	}
	return p
}

// shutdown drains the engine with a deadline d from now and returns what
// eng.Shutdown returned. Later calls return the first call's result.
func (p *pipe) shutdown(d time.Duration) error {
	p.stopped.Store(true)
	p.stopOnce.Do(func() {
		for _, f := range p.beforeStop {
			f()
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		p.stopErr = p.eng.Shutdown(ctx)
		select {
		case <-p.eng.Done():
		case <-time.After(waitLimit):
			p.t.Errorf("engine not done %s after Shutdown returned", waitLimit)
		}
		if err := p.eng.Err(); err != nil {
			p.t.Errorf("a node failed: %v", err)
		}
	})
	return p.stopErr
}

// flow is the pipeline's item accounting now.
func (p *pipe) flow() engine.Flow { return p.eng.Status()[0].Flow }

// node returns the status of the named node.
func (p *pipe) node(name string) engine.NodeStatus {
	for _, n := range p.eng.Status()[0].Nodes {
		if n.Name == name {
			return n
		}
	}
	p.t.Fatalf("no node %q in the status", name)
	return engine.NodeStatus{}
}

// metric sums the series of the named metric that carry every given
// label (name, value pairs).
func (p *pipe) metric(name string, labels ...string) float64 {
	var sum float64
	for _, smp := range p.eng.Metrics().Snapshot() {
		if smp.Name != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range smp.Labels {
				if l.Name == labels[i] && l.Value == labels[i+1] {
					found = true
				}
			}
			match = match && found
		}
		if match {
			sum += smp.Value
		}
	}
	return sum
}

// requireFlow checks the accounting of a stopped engine: nothing in
// flight, every admitted item delivered, nacked or dropped, and the given
// totals.
func (p *pipe) requireFlow(t testing.TB, admitted, delivered, nacked uint64) {
	t.Helper()
	f := p.flow()
	if f.Admitted != f.Delivered+f.Nacked+f.Dropped {
		t.Errorf("accounting does not balance: %+v (in flight %d)", f, f.InFlight())
	}
	if f.Admitted != admitted || f.Delivered != delivered || f.Nacked != nacked || f.Dropped != 0 {
		t.Errorf("flow = %+v, want admitted %d, delivered %d, nacked %d, dropped 0", f, admitted, delivered, nacked)
	}
}

// yamlDoc wraps the nodes and connections of one pipeline (indented by 8
// spaces) in a document. policies may be empty.
func yamlDoc(policies, body string) string {
	return "version: otel_dataflow/v1\n" + policies + `
groups:
  g:
    pipelines:
      p:
` + body
}
