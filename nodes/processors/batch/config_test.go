package batch

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
)

func TestDefaultConfig(t *testing.T) {
	n, err := nodetest.NodeConfig(Type, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := decodeConfig(n)
	if err != nil {
		t.Fatalf("the empty config is invalid: %v", err)
	}
	got := cfg.settings()
	want := settings{
		format:      FormatPreserve,
		otlp:        limits{lower: 256 << 10, maxFragments: 65536, maxOverhead: 8 << 20, maxFragmentsPerFlush: 65536},
		otap:        limits{lower: 8192, maxFragments: 65536, maxOverhead: 8 << 20, maxFragmentsPerFlush: 65536},
		maxDuration: 200 * time.Millisecond,
		inbound:     1024,
		outbound:    512,
	}
	if got != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestConfigSettings(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantOTLP limits
		wantOTAP limits
	}{
		{
			name:     "a written block replaces the default: no min_size means max_size is the lower limit",
			yaml:     "otlp: {max_size: 1MiB}\notap: {max_size: 100, sizer: items}",
			wantOTLP: limits{lower: 1 << 20, max: 1 << 20, maxFragments: 65536, maxOverhead: 8 << 20, maxFragmentsPerFlush: 65536},
			wantOTAP: limits{lower: 100, max: 100, maxFragments: 65536, maxOverhead: 8 << 20, maxFragmentsPerFlush: 65536},
		},
		{
			name:     "split budgets",
			yaml:     "otlp: {min_size: 1KiB, max_size: 2KiB, sizer: bytes, max_split_fragments: 3, max_split_overhead_bytes: 1MiB, max_split_fragments_per_flush: 5}",
			wantOTLP: limits{lower: 1 << 10, max: 2 << 10, maxFragments: 3, maxOverhead: 1 << 20, maxFragmentsPerFlush: 5},
			wantOTAP: limits{lower: 8192, maxFragments: 65536, maxOverhead: 8 << 20, maxFragmentsPerFlush: 65536},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := nodetest.NodeConfig(Type, tt.yaml, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := decodeConfig(n)
			if err != nil {
				t.Fatal(err)
			}
			if s := cfg.settings(); s.otlp != tt.wantOTLP || s.otap != tt.wantOTAP {
				t.Fatalf("limits:\n got %+v / %+v\nwant %+v / %+v", s.otlp, s.otap, tt.wantOTLP, tt.wantOTAP)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		ports   []string
		wantErr []string // each: a substring of one error (path, message, hint)
	}{
		{name: "empty", yaml: ""},
		{name: "reference defaults written out", yaml: `
format: preserve
otlp: {min_size: 262144, sizer: bytes}
otap: {min_size: 8192, sizer: items}
max_batch_duration: 200ms
inbound_request_limit: 1024
outbound_request_limit: 512`},
		{name: "split-only, both blocks", yaml: `
max_batch_duration: 0s
otlp: {max_size: 1MiB, sizer: bytes}
otap: {max_size: 1000, sizer: items}`},
		{name: "inactive block not validated", yaml: `
format: otap
otlp: {sizer: items}
otap: {min_size: 10, sizer: items}`},
		{name: "two ports with a default", yaml: "", ports: []string{"a", "b"}},

		{name: "neither min nor max", yaml: "otlp: {sizer: bytes}",
			wantErr: []string{"config.otlp: neither min_size nor max_size is set", "hint: set min_size"}},
		{name: "wrong sizer otlp", yaml: "otlp: {min_size: 10, sizer: items}",
			wantErr: []string{"config.otlp.sizer: sizer \"items\" is not supported for otlp batches", "set sizer: bytes"}},
		{name: "wrong sizer otap", yaml: "otap: {min_size: 10, sizer: requests}",
			wantErr: []string{"config.otap.sizer: sizer \"requests\"", "set sizer: items"}},
		{name: "max below min", yaml: "otap: {min_size: 10, max_size: 5, sizer: items}",
			wantErr: []string{"config.otap.max_size: max_size (5) is less than min_size (10)", "raise max_size"}},
		{name: "duration 0 with min_size", yaml: "format: otlp\nmax_batch_duration: 0s\notlp: {min_size: 10, max_size: 20, sizer: bytes}",
			wantErr: []string{"config.otlp.min_size: min_size needs max_batch_duration above 0", "remove min_size"}},
		{name: "duration 0 without max_size", yaml: "format: otap\nmax_batch_duration: 0s\notap: {sizer: items}",
			wantErr: []string{"config.otap.max_size: max_batch_duration 0s (split-only mode) needs max_size", "set max_size",
				"config.otap: neither min_size nor max_size"}},
		{name: "duration 0 with a default block", yaml: "max_batch_duration: 0s\notap: {max_size: 10, sizer: items}",
			wantErr: []string{"config.otlp: max_batch_duration 0s (split-only mode) needs max_size in the otlp block, which is absent",
				"or set format: otap"}},
		{name: "unknown format", yaml: "format: arrow",
			wantErr: []string{`config.format: unknown format "arrow"`, "use otlp, otap or preserve"}},
		{name: "negative duration", yaml: "max_batch_duration: -1s",
			wantErr: []string{"config.max_batch_duration: must not be negative"}},
		{name: "zero limits", yaml: "inbound_request_limit: 0\noutbound_request_limit: -1",
			wantErr: []string{"config.inbound_request_limit: must be greater than 0", "config.outbound_request_limit: must be greater than 0"}},
		{name: "zero sizes", yaml: "otlp: {min_size: 0, max_size: 0, sizer: bytes, max_split_fragments: 0, max_split_overhead_bytes: 0}",
			wantErr: []string{"config.otlp.min_size: must be greater than 0", "config.otlp.max_size: must be greater than 0",
				"config.otlp.max_split_fragments: must be greater than 0", "config.otlp.max_split_overhead_bytes: must be greater than 0"}},
		{name: "unknown key", yaml: "max_batch_size: 10",
			wantErr: []string{`unknown field "max_batch_size"`}},
		{name: "bad size", yaml: "otlp: {min_size: 10 apples, sizer: bytes}",
			wantErr: []string{"config.otlp.min_size", "invalid size"}},
		{name: "two ports, no default", yaml: "", ports: []string{"a", "b"},
			wantErr: []string{"outputs: processor:batch sends on a single output", "default_output"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ports := tt.ports
			if len(ports) == 0 {
				ports = []string{"default"}
			}
			n, err := nodetest.NodeConfig(Type, tt.yaml, ports)
			if err != nil {
				t.Fatal(err)
			}
			n.Path = config.Path{}.Key("node")
			if tt.name == "two ports with a default" {
				n.DefaultOutput = "a"
			}
			err = NewFactory().Validate(n)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
			for _, e := range config.Errors(err) {
				if !errors.Is(e, config.ErrInvalidValue) && !errors.Is(e, config.ErrUnknownField) {
					t.Errorf("error %v is of an unexpected class", e)
				}
			}
		})
	}
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	if f.Type != "processor:batch" || f.Description == "" || f.NewProcessor == nil || f.Kind() != config.KindProcessor {
		t.Fatalf("factory = %+v", f)
	}
	n, err := nodetest.NodeConfig(Type, "format: nope", []string{"default"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewProcessor(engineContext(n)); err == nil || !strings.Contains(err.Error(), `processor:batch "node"`) {
		t.Fatalf("newProcessor error = %v, want it to name the node", err)
	}
}

func engineContext(n *config.Node) engine.NodeContext { return engine.NodeContext{Node: n} }
