package typerouter_test

import (
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/typerouter"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		ports   []string
		dflt    string   // default_output
		wantErr []string // substrings, one per expected error, in order; none: valid
	}{
		{name: "reference spelling", yaml: "{}", ports: []string{"logs", "metrics", "traces"}},
		{name: "no config block", ports: []string{"logs"}},
		{name: "backpressure", yaml: "admission_policy: { on_full: backpressure }", ports: []string{"traces"}},
		{name: "reject_immediately", yaml: "admission_policy:\n  on_full: reject_immediately", ports: []string{"logs", "metrics"}},
		{name: "default output for the rest", ports: []string{"logs", "rest"}, dflt: "rest"},
		{name: "default output is a signal port", ports: []string{"logs", "metrics"}, dflt: "logs"},
		{
			name:    "unknown policy",
			yaml:    "admission_policy: { on_full: drop }",
			ports:   []string{"logs"},
			wantErr: []string{`config.admission_policy.on_full: unknown policy "drop" (hint: use reject_immediately`},
		},
		{
			name:    "unknown key",
			yaml:    "routes: { logs: a }",
			ports:   []string{"logs"},
			wantErr: []string{`config.routes: unknown field "routes"`},
		},
		{
			name:    "typo in a port",
			ports:   []string{"log", "metrics", "traces"},
			wantErr: []string{`outputs[0]: processor:type_router never sends on port "log": it sends each signal on the port named after it, and the others on the default output (hint: did you mean "logs"? name it logs, metrics or traces, or make it the default_output`},
		},
		{
			name:    "port without a use",
			ports:   []string{"logs", "archive"},
			wantErr: []string{`outputs[1]: processor:type_router never sends on port "archive"`},
		},
		{
			name:    "no outputs declared",
			wantErr: []string{`outputs: processor:type_router declares none of the ports logs, metrics and traces, so it would send every signal to the same output (hint: declare the ports it routes to, e.g. outputs: [logs, metrics, traces]`},
		},
		{
			name:    "only a catch-all port",
			ports:   []string{"out"},
			wantErr: []string{`outputs: processor:type_router declares none of the ports logs, metrics and traces`},
		},
		{
			name:    "every problem at once",
			yaml:    "admission_policy: { on_full: wait }",
			ports:   []string{"Logs", "metrics", "x"},
			wantErr: []string{"config.admission_policy.on_full", `outputs[0]: processor:type_router never sends on port "Logs"`, `outputs[2]`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := typerouter.NewFactory()
			n, err := nodetest.NodeConfig(f.Type, tt.yaml, tt.ports)
			if err != nil {
				t.Fatal(err)
			}
			n.DefaultOutput = tt.dflt
			err = f.Validate(n)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			errs := config.Errors(err)
			if len(errs) != len(tt.wantErr) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tt.wantErr), err)
			}
			for i, want := range tt.wantErr {
				if got := errs[i].Error(); !strings.Contains(got, want) {
					t.Errorf("error %d = %q\nwant it to contain %q", i, got, want)
				}
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	c := typerouter.DefaultConfig()
	if c.AdmissionPolicy.OnFull != typerouter.RejectImmediately {
		t.Fatalf("default on_full = %q, want reject_immediately (the reference engine's)", c.AdmissionPolicy.OnFull)
	}
	if err := c.Validate(config.Path{}.Key("config")); err != nil {
		t.Fatal(err)
	}
}
