package logsampling_test

import (
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/logsampling"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		ports   []string
		wantErr []string // substrings, one per expected error, in order; none: valid
	}{
		{name: "ratio", yaml: "policy:\n  ratio:\n    emit: 2\n    out_of: 3"},
		{name: "ratio keeping everything", yaml: "policy: { ratio: { emit: 5, out_of: 5 } }"},
		{name: "zip", yaml: "policy: { zip: { interval: 60s, max_items: 100 } }"},
		{name: "zip humantime", yaml: "policy: { zip: { interval: 1 min, max_items: 1 } }"},
		{
			name:    "no config",
			wantErr: []string{"config.policy: a sampling policy is required: set exactly one of zip and ratio (hint: add policy: { ratio: { emit: 1, out_of: 10 } }"},
		},
		{name: "empty policy", yaml: "policy: {}", wantErr: []string{"config.policy: a sampling policy is required"}},
		{
			name:    "both policies",
			yaml:    "policy: { ratio: { emit: 1, out_of: 2 }, zip: { interval: 1s, max_items: 1 } }",
			wantErr: []string{"config.policy: zip and ratio are both set; a node applies exactly one policy (hint: keep only one of zip and ratio)"},
		},
		{
			name:    "unknown policy",
			yaml:    "policy: { probabilistic: { percentage: 10 } }",
			wantErr: []string{`config.policy.probabilistic: unknown field "probabilistic"`},
		},
		{
			name:    "ratio zeros",
			yaml:    "policy: { ratio: { emit: 0, out_of: 0 } }",
			wantErr: []string{"config.policy.ratio.emit: must be greater than 0, got 0", "config.policy.ratio.out_of: must be greater than 0, got 0"},
		},
		{
			name:    "ratio above one",
			yaml:    "policy: { ratio: { emit: 11, out_of: 10 } }",
			wantErr: []string{"config.policy.ratio.emit: 11 is more than out_of 10 (hint: lower emit to at most out_of"},
		},
		{
			name:    "ratio missing out_of",
			yaml:    "policy: { ratio: { emit: 1 } }",
			wantErr: []string{"config.policy.ratio.out_of: must be greater than 0, got 0 (hint: set the cycle length in records"},
		},
		{
			name:    "zip zeros",
			yaml:    "policy: { zip: {} }",
			wantErr: []string{"config.policy.zip.interval: must be greater than 0, got 0s (hint: set the window length", "config.policy.zip.max_items: must be greater than 0, got 0"},
		},
		{name: "zip negative interval", yaml: "policy: { zip: { interval: -1s, max_items: 3 } }", wantErr: []string{"config.policy.zip.interval: must be greater than 0, got -1s"}},
		{name: "zip bare number interval", yaml: "policy: { zip: { interval: 60, max_items: 3 } }", wantErr: []string{"config.policy.zip.interval"}},
		{name: "ratio wrong type", yaml: "policy: { ratio: { emit: one, out_of: 10 } }", wantErr: []string{"config.policy.ratio.emit"}},
		{
			name:    "several outputs",
			yaml:    "policy: { ratio: { emit: 1, out_of: 2 } }",
			ports:   []string{"a", "b"},
			wantErr: []string{"outputs: processor:log_sampling sends on a single output, got 2 (a, b) and no default_output"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := nodetest.ValidateConfig(logsampling.NewFactory(), tt.yaml, tt.ports...)
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
