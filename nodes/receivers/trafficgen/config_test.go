package trafficgen_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/exporters/noop"
	"github.com/ackflow/ackflow/nodes/receivers/trafficgen"
)

func TestDefaultConfigValidates(t *testing.T) {
	c := trafficgen.DefaultConfig()
	if c.TrafficConfig.MaxBatchSize != 100 || c.TrafficConfig.LogBodySizeBytes != 100 || c.MaxInflight != 1024 ||
		c.EnableAckNack || c.TrafficConfig.SignalsPerSecond != nil || c.TrafficConfig.MaxSignalCount != nil {
		t.Fatalf("DefaultConfig() = %+v", c)
	}
	if err := c.Validate(config.Path{}.Key("config")); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		ports   []string
		wantErr []string // substrings, one per expected error, in order; none: valid
		class   error    // errors.Is class of the first error, if set
	}{
		{name: "no config block", yaml: ""},
		{name: "empty traffic_config", yaml: "traffic_config: {}"},
		{name: "null traffic_config", yaml: "traffic_config: ~"},
		{name: "every key", yaml: `
traffic_config:
  signals_per_second: 1000
  max_signal_count: 50000
  max_batch_size: 500
  log_weight: 3
  metric_weight: 2
  trace_weight: 0
  log_body_size_bytes: 1KiB
enable_ack_nack: true
max_inflight: 16`},
		{name: "null rate and count", yaml: "traffic_config: { signals_per_second: null, max_signal_count: null }"},
		{name: "one weight set", yaml: "traffic_config: { trace_weight: 1 }"},
		{name: "zero body", yaml: "traffic_config: { log_body_size_bytes: 0 }"},
		{name: "default_output picks the port", yaml: "", ports: []string{"a", "b"}},
		{
			name: "unknown key", yaml: "traffic_config: { signals_per_secnd: 5 }",
			wantErr: []string{`config.traffic_config.signals_per_secnd: unknown field "signals_per_secnd"`},
			class:   config.ErrUnknownField,
		},
		{
			name: "unknown top-level key", yaml: "data_sorce: synthetic",
			wantErr: []string{`config.data_sorce: unknown field "data_sorce" (hint: did you mean "data_source"?`},
			class:   config.ErrUnknownField,
		},
		{name: "reference keys", yaml: `
data_source: semantic_conventions
registry_path: https://github.com/open-telemetry/semantic-conventions.git[model]
generation_strategy: fresh
transport_headers: { x-tenant-id: demo }
resource_attributes: { tenant.id: prod }
traffic_config: { production_mode: open, signals_per_second: 100, num_log_attributes: 4, use_trace_context: true, num_metric_attributes: 1, num_data_points_per_metric: 2 }`},
		{name: "resource attributes as a list of maps", yaml: "resource_attributes: [{tenant.id: a}, {tenant.id: b}]"},
		{name: "weighted resource attributes", yaml: "resource_attributes: [{attrs: {tenant.id: a}, weight: 3}, {attrs: {tenant.id: b}}]"},
		{
			name: "unknown values", yaml: "data_source: static\ngeneration_strategy: templates\ntraffic_config: { production_mode: burst }",
			wantErr: []string{
				`config.data_source: unknown data_source "static" (hint: use synthetic or semantic_conventions)`,
				`config.generation_strategy: unknown generation_strategy "templates" (hint: use pre_generated or fresh)`,
				`config.traffic_config.production_mode: unknown production_mode "burst" (hint: use smooth or open)`,
			},
		},
		{
			name: "bad resource sets", yaml: "resource_attributes: [{attrs: {tenant.id: a}, weight: 0}, {attrs: {}}]",
			wantErr: []string{"config.resource_attributes[0].weight: must be from 1 to 1000000, got 0", "config.resource_attributes[1]: the attribute set is empty"},
		},
		{
			name: "unknown key in a weighted set", yaml: "resource_attributes: [{attrs: {tenant.id: a}, wieght: 2}]",
			wantErr: []string{`unknown field "wieght" in a weighted set`},
			class:   config.ErrUnknownField,
		},
		{
			name: "shape bounds", yaml: "traffic_config: { num_log_attributes: -1, num_metric_attributes: 129, num_data_points_per_metric: 0 }",
			wantErr: []string{"config.traffic_config.num_log_attributes: must be from 0 to 128, got -1",
				"config.traffic_config.num_metric_attributes: must be from 0 to 128, got 129",
				"config.traffic_config.num_data_points_per_metric: must be from 1 to 10000, got 0"},
		},
		{
			name: "wrong type", yaml: "traffic_config: { max_batch_size: lots }",
			wantErr: []string{"config.traffic_config.max_batch_size: got \"lots\", want an integer"},
			class:   config.ErrType,
		},
		{
			name: "zero rate", yaml: "traffic_config: { signals_per_second: 0 }",
			wantErr: []string{"config.traffic_config.signals_per_second: must be from 1 to 1000000000, got 0 (hint: use a positive rate such as 1000, or null to generate as fast as possible)"},
			class:   config.ErrInvalidValue,
		},
		{
			name: "negative count", yaml: "traffic_config: { max_signal_count: -5 }",
			wantErr: []string{"config.traffic_config.max_signal_count: must be at least 1, got -5 (hint: use a positive count such as 100000, or null for no limit)"},
		},
		{
			name: "batch size bounds", yaml: "traffic_config: { max_batch_size: 0 }",
			wantErr: []string{"config.traffic_config.max_batch_size: must be from 1 to 100000, got 0"},
		},
		{
			name: "huge batch", yaml: "traffic_config: { max_batch_size: 100001 }",
			wantErr: []string{"config.traffic_config.max_batch_size: must be from 1 to 100000, got 100001"},
		},
		{
			name: "negative body size", yaml: "traffic_config: { log_body_size_bytes: -1 }",
			wantErr: []string{"config.traffic_config.log_body_size_bytes: "},
		},
		{
			name: "body too large", yaml: "traffic_config: { log_body_size_bytes: 2MiB }",
			wantErr: []string{"config.traffic_config.log_body_size_bytes: must be at most 1MiB, got 2MiB"},
		},
		{
			name: "negative weights", yaml: "traffic_config: { log_weight: -1, trace_weight: -2 }",
			wantErr: []string{
				"config.traffic_config.log_weight: must not be negative, got -1 (hint: use 0 to disable this signal",
				"config.traffic_config.trace_weight: must not be negative, got -2",
			},
		},
		{
			name: "all weights zero", yaml: "traffic_config: { log_weight: 0, metric_weight: 0 }",
			wantErr: []string{"config.traffic_config: at least one of log_weight, metric_weight and trace_weight must be greater than 0 (hint: set log_weight: 1 for logs only"},
		},
		{
			name: "max_inflight zero", yaml: "enable_ack_nack: true\nmax_inflight: 0",
			wantErr: []string{"config.max_inflight: must be from 1 to 1000000, got 0 (hint: use a number of messages such as 1024)"},
		},
		{
			name: "several ports", yaml: "", ports: []string{"a", "b"},
			wantErr: []string{"outputs: receiver:traffic_generator sends on a single output, got 2 (a, b) and no default_output"},
		},
		{
			name: "every error at once", yaml: "traffic_config: { signals_per_second: -1, max_signal_count: 0, max_batch_size: -3 }\nmax_inflight: -1",
			wantErr: []string{"signals_per_second", "max_signal_count", "max_batch_size", "max_inflight"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ports := tt.ports
			if ports == nil {
				ports = []string{"default"}
			}
			n, err := nodetest.NodeConfig(trafficgen.Type, tt.yaml, ports)
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "default_output picks the port" {
				n.DefaultOutput = "a"
			}
			err = trafficgen.NewFactory().Validate(n)
			errs := config.Errors(err)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if len(errs) != len(tt.wantErr) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tt.wantErr), err)
			}
			for i, want := range tt.wantErr {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d = %q\nwant it to contain %q", i, errs[i].Error(), want)
				}
			}
			if tt.class != nil && !errors.Is(errs[0], tt.class) {
				t.Errorf("error %v is not %v", errs[0], tt.class)
			}
		})
	}
}

// The reference engine's keys that the node does not act on are reported,
// each with its path and why: the registry, the transport headers, and the
// synthetic data's keys when the data comes from the semantic conventions.
func TestReferenceKeysAreReported(t *testing.T) {
	doc := `version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          gen:
            type: receiver:traffic_generator
            config:
              data_source: semantic_conventions
              registry_path: ./semantic-conventions/model
              transport_headers: { x-tenant-id: demo }
              traffic_config: { log_body_size_bytes: 1KiB, num_log_attributes: 3, max_signal_count: 10 }
          out: { type: exporter:noop }
        connections:
          - { from: gen, to: out }
`
	reg := engine.MustRegistry(trafficgen.NewFactory(), noop.NewFactory())
	d, err := config.Load("gen.yaml", []byte(doc), reg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range d.Ignored() {
		got = append(got, k.Path.String()+": "+k.Reason)
	}
	want := []string{
		"groups.g.pipelines.p.nodes.gen.config.registry_path: not taken: ackflow reads no semantic-conventions registry",
		"groups.g.pipelines.p.nodes.gen.config.transport_headers: ackflow messages carry no transport headers",
		"groups.g.pipelines.p.nodes.gen.config.traffic_config.log_body_size_bytes: not taken: it shapes data_source: synthetic data",
		"groups.g.pipelines.p.nodes.gen.config.traffic_config.num_log_attributes: not taken: it shapes data_source: synthetic data",
	}
	if len(got) != len(want) {
		t.Fatalf("ignored keys:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("key %d = %q\nwant prefix %q", i, got[i], want[i])
		}
	}
}
