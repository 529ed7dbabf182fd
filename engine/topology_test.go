package engine_test

import (
	"strings"
	"testing"
	"testing/synctest"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

func TestCompetingConsumersShareTheMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, y := newSink(), newSink()
		tb := newTestbed(t, `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:test_source }
          x: { type: exporter:test }
          y: { type: exporter:test }
        connections:
          - { from: src, to: [x, y] }
`, map[string]engine.Processor{"x": x, "y": y}, engine.Options{})
		tb.eng.Start()
		feed(t, tb.source("src"), 200, 1)
		synctest.Wait()
		if x.received()+y.received() != 200 {
			t.Fatalf("x got %d, y got %d: each message must reach exactly one consumer", x.received(), y.received())
		}
		tb.shutdown()
	})
}

func TestFanInMergesSources(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		tb := newTestbed(t, `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          s1: { type: receiver:test_source }
          s2: { type: receiver:test_source }
          out: { type: exporter:test }
        connections:
          - { from: [s1, s2], to: out }
`, map[string]engine.Processor{"out": out}, engine.Options{})
		tb.eng.Start()
		feed(t, tb.source("s1"), 3, 1)
		feed(t, tb.source("s2"), 4, 1)
		synctest.Wait()
		if a1, _, _ := tb.source("s1").counts(); a1 != 3 {
			t.Fatalf("s1 acked %d, want 3", a1)
		}
		if a2, _, _ := tb.source("s2").counts(); a2 != 4 {
			t.Fatalf("s2 acked %d, want 4", a2)
		}
		// The output channel closes only when both sources are gone.
		tb.shutdown()
		if out.received() != 7 {
			t.Fatalf("sink got %d, want 7", out.received())
		}
	})
}

// router alternates between its two named ports.
type router struct{ n int }

func (r *router) OnPData(m *pdata.Message, fx engine.Effects) error {
	r.n++
	port := "even"
	if r.n%2 == 1 {
		port = "odd"
	}
	return fx.SendTo(port, m)
}

func (r *router) OnControl(engine.Control, engine.Effects) error { return nil }

func TestNamedPortsAndDefaultPortRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		odd, even := newSink(), newSink()
		var sendErr error
		probe := &recorder{onData: func(m *pdata.Message, fx engine.Effects) {
			sendErr = fx.Send(m) // two ports, no default_output
			fx.NotifyAck(m)
		}}
		tb := newTestbed(t, `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:test_source }
          r: { type: processor:test, outputs: [odd, even] }
          odd: { type: exporter:test }
          even: { type: exporter:test }
          src2: { type: receiver:test_source }
          probe: { type: processor:test, outputs: [a, b] }
          pa: { type: exporter:test }
          pb: { type: exporter:test }
        connections:
          - { from: src, to: r }
          - { from: 'r["odd"]', to: odd }
          - { from: 'r["even"]', to: even }
          - { from: src2, to: probe }
          - { from: 'probe["a"]', to: pa }
          - { from: 'probe["b"]', to: pb }
`, map[string]engine.Processor{"r": &router{}, "odd": odd, "even": even, "probe": probe, "pa": newSink(), "pb": newSink()}, engine.Options{})
		tb.eng.Start()
		feed(t, tb.source("src"), 5, 1)
		feed(t, tb.source("src2"), 1, 1)
		synctest.Wait()
		if odd.received() != 3 || even.received() != 2 {
			t.Fatalf("odd=%d even=%d, want 3 and 2", odd.received(), even.received())
		}
		if sendErr == nil || !strings.Contains(sendErr.Error(), "default_output") {
			t.Fatalf("Send without a default port: %v, want ErrNoDefaultPort naming default_output", sendErr)
		}
		tb.shutdown()
	})
}

func TestCoreCountStartsCopies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := newTestbed(t, `
version: otel_dataflow/v1
policies:
  resources: { core_allocation: { type: core_count, count: 3 } }
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:test_source }
          out: { type: exporter:test }
        connections:
          - { from: src, to: out }
`, map[string]engine.Processor{"out": &relay{}}, engine.Options{})
		st := tb.eng.Status()
		if len(st) != 1 || st[0].Copies != 3 || len(tb.sources) != 3 {
			t.Fatalf("status %+v, %d sources: want one pipeline in 3 copies", st, len(tb.sources))
		}
		tb.eng.Start()
		tb.shutdown()
	})
}

func TestWiringErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"port wired to two destination sets", `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:test_source }
          a: { type: exporter:test }
          b: { type: exporter:test }
        connections:
          - { from: src, to: a }
          - { from: src, to: b }
`, `port "default" of node "src" is already connected`},
		{"node fed by two destination sets", `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          s1: { type: receiver:test_source }
          s2: { type: receiver:test_source }
          a: { type: exporter:test }
          b: { type: exporter:test }
        connections:
          - { from: s1, to: a }
          - { from: s2, to: [a, b] }
`, `node "a" receives from two different destination sets`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := engine.MustRegistry(
				engine.Factory{Type: "receiver:test_source", NewReceiver: func(engine.NodeContext) (engine.Receiver, error) { return newSource(), nil }},
				engine.Factory{Type: "exporter:test", NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return &relay{}, nil }},
			)
			doc, err := config.Load("t.yaml", []byte(tc.yaml), reg)
			if err != nil {
				t.Fatal(err)
			}
			err = engine.Check(doc)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "groups.g.pipelines.p") {
				t.Fatalf("Check = %v, want %q with the pipeline's path", err, tc.want)
			}
		})
	}
}

func TestRegistryRejectsDuplicatesAndBadTypes(t *testing.T) {
	mk := func(typ string) engine.Factory {
		return engine.Factory{Type: typ, NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return &relay{}, nil }}
	}
	if _, err := engine.NewRegistry(mk("processor:x"), mk("processor:x")); err == nil {
		t.Fatal("duplicate type accepted")
	}
	if _, err := engine.NewRegistry(mk("thing:x")); err == nil {
		t.Fatal("type with an unknown kind accepted")
	}
	if _, err := engine.NewRegistry(mk("receiver:x")); err == nil {
		t.Fatal("receiver type with a processor constructor accepted")
	}
}

func TestRuntimeMetricsNoneKeepsNodeSeriesOut(t *testing.T) {
	for _, level := range []string{"none", "basic"} {
		t.Run(level, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tb := newTestbed(t, `
version: otel_dataflow/v1
policies:
  telemetry: { runtime_metrics: `+level+` }
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:test_source }
          out: { type: exporter:test }
        connections:
          - { from: src, to: out }
`, map[string]engine.Processor{"out": newSink()}, engine.Options{})
				tb.eng.Start()
				feed(t, tb.source("src"), 2, 1)
				synctest.Wait()
				tb.shutdown()
				var node, pipeline bool
				for _, s := range tb.registry.Snapshot() {
					node = node || strings.HasPrefix(s.Name, "ackflow_node_") || strings.HasPrefix(s.Name, "ackflow_wakeup_")
					pipeline = pipeline || s.Name == "ackflow_pipeline_delivered_items_total" && s.Value == 2
				}
				if node != (level != "none") || !pipeline {
					t.Fatalf("level %s: node series exported = %v, pipeline accounting = %v", level, node, pipeline)
				}
			})
		})
	}
}
