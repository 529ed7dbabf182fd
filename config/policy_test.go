package config

import (
	"strings"
	"testing"
)

func TestResolvedPolicies(t *testing.T) {
	src := `version: otel_dataflow/v1
policies:
  channel_capacity: { pdata: 64, control: { node: 512, pipeline: 100 } }
  telemetry: { runtime_metrics: detailed }
  resources: { core_allocation: { type: all_cores } }
groups:
  tuned:
    policies:
      channel_capacity: { pdata: 32 }   # replaces the whole family: control back to defaults
    pipelines:
      custom:
        policies:
          resources: { core_allocation: { type: core_count, count: 3 } }
          telemetry: {}                  # set but empty: the default level, not the top's
` + onePipeline + `
      inherit:
` + onePipeline + `
  plain:
    pipelines:
      top:
` + onePipeline
	d, err := Parse("policies.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	get := func(group, name string) ResolvedPolicies {
		for _, g := range d.Groups {
			for _, p := range g.Pipelines {
				if g.Name == group && p.Name == name {
					return d.Resolved(p)
				}
			}
		}
		t.Fatalf("no pipeline %s/%s", group, name)
		return ResolvedPolicies{}
	}
	const numCPU = 8
	tests := []struct {
		group, name      string
		pdata, ctlNode   int
		ctlPipeline      int
		metrics          MetricsLevel
		copies           int
		allocationSource string
	}{
		// pipeline sets resources and telemetry, group sets channel_capacity
		{"tuned", "custom", 32, DefaultControlNodeCapacity, DefaultControlPipelineCapacity, MetricsBasic, 3, "pipeline"},
		// group sets channel_capacity, the rest from the top level
		{"tuned", "inherit", 32, DefaultControlNodeCapacity, DefaultControlPipelineCapacity, MetricsDetailed, numCPU, "top"},
		// everything from the top level
		{"plain", "top", 64, 512, 100, MetricsDetailed, numCPU, "top"},
	}
	for _, tt := range tests {
		t.Run(tt.group+"/"+tt.name, func(t *testing.T) {
			r := get(tt.group, tt.name)
			cc := r.ChannelCapacity
			if cc.PData != tt.pdata || cc.Control.Node != tt.ctlNode || cc.Control.Pipeline != tt.ctlPipeline {
				t.Errorf("channel capacity = %+v, want pdata %d control.node %d control.pipeline %d", cc, tt.pdata, tt.ctlNode, tt.ctlPipeline)
			}
			if cc.Control.Completion != DefaultControlCompletionCapacity {
				t.Errorf("completion = %d", cc.Control.Completion)
			}
			if r.Telemetry.RuntimeMetrics != tt.metrics {
				t.Errorf("runtime_metrics = %q, want %q", r.Telemetry.RuntimeMetrics, tt.metrics)
			}
			if got := r.Resources.CoreAllocation.Copies(numCPU); got != tt.copies {
				t.Errorf("copies = %d, want %d (from the %s level)", got, tt.copies, tt.allocationSource)
			}
		})
	}
}

// onePipeline is a minimal valid pipeline body at the indentation of a
// pipeline's fields.
const onePipeline = `        nodes:
          in: { type: receiver:otlp }
          out: { type: exporter:noop }
        connections: [{ from: in, to: out }]`

func TestResolvedDefaults(t *testing.T) {
	d, err := Parse("d.yaml", []byte(pipe(basicNodes, basicConns)))
	if err != nil {
		t.Fatal(err)
	}
	r := d.Resolved(d.Groups[0].Pipelines[0])
	want := ResolvedPolicies{
		ChannelCapacity: ChannelCapacity{Control: ControlCapacity{Node: 256, Pipeline: 256, Completion: 256}, PData: 128},
		Telemetry:       TelemetryPolicy{RuntimeMetrics: MetricsBasic},
	}
	if r != want {
		t.Errorf("defaults = %+v, want %+v", r, want)
	}
	if c := r.Resources.CoreAllocation.Copies(16); c != 1 {
		t.Errorf("default copies = %d, want 1", c)
	}
	if d.Engine.HTTPAdmin.BindAddress != DefaultBindAddress || d.Engine.ShutdownTimeout != DefaultShutdownTimeout {
		t.Errorf("engine defaults = %+v", d.Engine)
	}
	if d.Policies != (Policies{}) {
		t.Errorf("no policies written, but top-level families are set: %+v", d.Policies)
	}
}

func TestEngineSettings(t *testing.T) {
	src := "engine: { http_admin: { bind_address: '[::1]:0' }, shutdown_timeout: 1m 30s }\n" + pipe(basicNodes, basicConns)
	d, err := Parse("e.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if d.Engine.HTTPAdmin.BindAddress != "[::1]:0" || d.Engine.ShutdownTimeout.String() != "1m30s" {
		t.Errorf("engine = %+v", d.Engine)
	}
}

func TestCoreAllocationCopies(t *testing.T) {
	tests := []struct {
		name   string
		alloc  CoreAllocation
		numCPU int
		want   int
	}{
		{"unset is one copy", CoreAllocation{}, 8, 1},
		{"all cores", CoreAllocation{Type: AllCores}, 8, 8},
		{"all cores on an unknown CPU count", CoreAllocation{Type: AllCores}, 0, 1},
		{"core count is exact", CoreAllocation{Type: CoreCount, Count: 3}, 8, 3},
		{"core count above the CPU count is kept", CoreAllocation{Type: CoreCount, Count: 12}, 4, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.alloc.Copies(tt.numCPU); got != tt.want {
				t.Errorf("Copies(%d) = %d, want %d", tt.numCPU, got, tt.want)
			}
		})
	}
}

func TestPoliciesAcceptReferenceEngineFields(t *testing.T) {
	src := strings.Replace(pipe(basicNodes, basicConns), "  g:\n", `  g:
    policies:
      channel_capacity:
        control: { node: 100, pipeline: 200, completion: 300 }
        pdata: 50
`, 1)
	d, err := Parse("ref.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := d.Groups[0].Policies.ChannelCapacity
	want := ChannelCapacity{Control: ControlCapacity{Node: 100, Pipeline: 200, Completion: 300}, PData: 50}
	if got == nil || *got != want {
		t.Errorf("group channel_capacity = %+v, want %+v", got, want)
	}
}
