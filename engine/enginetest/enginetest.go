package enginetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/telemetry"
)

// Timeout bounds each wait of Run and Shutdown. A pipeline that has not
// finished by then is taken to hang, and the test fails.
const Timeout = time.Minute

// Pipeline returns a document with one pipeline, groups.g.pipelines.p,
// whose nodes and connections blocks are body, written at column 0.
func Pipeline(body string) string {
	var b strings.Builder
	b.WriteString("version: otel_dataflow/v1\ngroups:\n  g:\n    pipelines:\n      p:\n")
	for line := range strings.Lines(strings.TrimLeft(body, "\n")) {
		if strings.TrimSpace(line) != "" {
			b.WriteString("        ")
		}
		b.WriteString(line)
	}
	return b.String()
}

// Start loads doc, a YAML document, with the node types of fs, builds the
// engine with o and starts it. It fails t when two factories share a type,
// when the document is invalid or when the engine cannot be built.
//
// The caller ends the engine: it finishes by itself (see Run) or through
// Shutdown. If it still runs when the test ends (the test failed before,
// or forgot), a cleanup aborts it and waits for it, so that no node
// goroutine outlives the test; a test that forgot fails.
func Start(t testing.TB, doc string, o engine.Options, fs ...engine.Factory) *engine.Engine {
	t.Helper()
	reg, err := engine.NewRegistry(fs...)
	if err != nil {
		t.Fatalf("enginetest: registry: %v", err)
	}
	d, err := config.Load("test.yaml", []byte(doc), reg)
	if err != nil {
		t.Fatalf("enginetest: config: %v", err)
	}
	eng, err := engine.New(d, reg, o)
	if err != nil {
		t.Fatalf("enginetest: engine.New: %v", err)
	}
	eng.Start()
	t.Cleanup(func() { stopLeftover(t, eng) })
	return eng
}

// stopLeftover aborts eng if it still runs, and fails t when nothing else
// did: a test must end the engines it starts.
func stopLeftover(t testing.TB, eng *engine.Engine) {
	select {
	case <-eng.Done():
		return
	default:
	}
	if !t.Failed() {
		t.Errorf("enginetest: the engine still runs at the end of the test: call Shutdown")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 0) // the deadline is now
	defer cancel()
	_ = eng.Shutdown(ctx) // aborts: every node answers what it holds and stops
}

// Run is Start, then waits until the engine is done by itself: every
// receiver returned and the close wave reached the exporters, with no
// shutdown request. It fails t when a node fails, or when the engine is
// not done within Timeout. The engine's metrics are eng.Metrics().
func Run(t testing.TB, doc string, o engine.Options, fs ...engine.Factory) *engine.Engine {
	t.Helper()
	eng := Start(t, doc, o, fs...)
	select {
	case <-eng.Done():
	case <-eng.Failed():
		t.Fatalf("enginetest: engine failed: %v", eng.Err())
	case <-time.After(Timeout): // a guard against a hang, not a wait
		t.Fatal("enginetest: the pipeline did not finish by itself")
	}
	return eng
}

// Shutdown drains eng (see engine.Engine.Shutdown) with Timeout as the
// deadline and waits until it is done. It fails t when the drain misses
// the deadline or a node failed.
func Shutdown(t testing.TB, eng *engine.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := eng.Shutdown(ctx); err != nil {
		t.Fatalf("enginetest: shutdown: %v", err)
	}
	<-eng.Done()
	if err := eng.Err(); err != nil {
		t.Fatalf("enginetest: a node failed: %v", err)
	}
}

// Value returns the value of the first series called name whose labels
// include labels (name, value pairs). It fails t when there is none.
func Value(t testing.TB, reg *telemetry.Registry, name string, labels ...string) float64 {
	t.Helper()
	want := telemetry.Labels(labels...)
	for _, s := range reg.Snapshot() {
		if s.Name == name && hasLabels(s.Labels, want) {
			return s.Value
		}
	}
	t.Fatalf("enginetest: no series %s%v", name, want)
	return 0
}

// Sum adds the values of every series called name whose labels include
// labels (name, value pairs). A family that does not exist sums to 0.
func Sum(reg *telemetry.Registry, name string, labels ...string) float64 {
	want := telemetry.Labels(labels...)
	total := 0.0
	for _, s := range reg.Snapshot() {
		if s.Name == name && hasLabels(s.Labels, want) {
			total += s.Value
		}
	}
	return total
}

// hasLabels reports whether got holds every label of want.
func hasLabels(got, want []telemetry.Label) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}
