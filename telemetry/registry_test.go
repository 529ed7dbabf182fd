package telemetry_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ackflow/ackflow/telemetry"
)

func TestPrometheusExposition(t *testing.T) {
	r := telemetry.NewRegistry()
	r.Counter("ackflow_x_total", "Xs seen.", telemetry.Labels("node", "a")...).Add(3)
	r.Counter("ackflow_x_total", "Xs seen.", telemetry.Labels("node", `b"\`+"\n")...).Inc()
	r.Gauge("ackflow_depth", "Queue depth.\nSecond line.").Set(-2)
	r.FloatGauge("ackflow_age_seconds", "Age.").Set(0.25)
	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP ackflow_age_seconds Age.
# TYPE ackflow_age_seconds gauge
ackflow_age_seconds 0.25
# HELP ackflow_depth Queue depth.\nSecond line.
# TYPE ackflow_depth gauge
ackflow_depth -2
# HELP ackflow_x_total Xs seen.
# TYPE ackflow_x_total counter
ackflow_x_total{node="a"} 3
ackflow_x_total{node="b\"\\\n"} 1
`
	if b.String() != want {
		t.Fatalf("exposition:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestSameSeriesIsShared(t *testing.T) {
	r := telemetry.NewRegistry()
	a := r.Counter("c_total", "h", telemetry.Labels("pipeline", "p")...)
	b := r.Counter("c_total", "h", telemetry.Labels("pipeline", "p")...)
	if a != b {
		t.Fatal("registering the same series twice must return the same counter (pipeline copies share it)")
	}
	if r.Counter("c_total", "h", telemetry.Labels("pipeline", "q")...) == a {
		t.Fatal("different labels must be a different series")
	}
}

func TestKindMismatchPanics(t *testing.T) {
	r := telemetry.NewRegistry()
	r.Counter("m", "h")
	defer func() {
		if recover() == nil {
			t.Fatal("registering a counter family as a gauge should panic")
		}
	}()
	r.Gauge("m", "h")
}

func TestNilRegistryGivesWorkingMetrics(t *testing.T) {
	var r *telemetry.Registry
	c := r.Counter("x", "h")
	c.Add(2)
	if c.Value() != 2 {
		t.Fatal("unregistered counter does not count")
	}
}

func TestConcurrentUpdatesAndSnapshot(t *testing.T) {
	r := telemetry.NewRegistry()
	c := r.Counter("n_total", "h")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Inc()
				_ = r.Snapshot()
			}
		})
	}
	wg.Wait()
	s := r.Snapshot()
	if len(s) != 1 || s[0].Value != 8000 {
		t.Fatalf("snapshot %+v, want one series at 8000", s)
	}
}

func TestCounterFuncReadsAtEachExposition(t *testing.T) {
	r := telemetry.NewRegistry()
	var n atomic.Uint64
	r.CounterFunc("ackflow_things_total", "Things.", n.Load, telemetry.Label{Name: "kind", Value: "a"})
	n.Store(3)
	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `ackflow_things_total{kind="a"} 3`) {
		t.Fatalf("exposition:\n%s", b.String())
	}
	n.Store(5)
	if s := r.Snapshot(); len(s) != 1 || s[0].Value != 5 {
		t.Fatalf("snapshot %+v, want 5", s)
	}
}
