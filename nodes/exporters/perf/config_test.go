package perf

import (
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    *Config  // the decoded config, when valid and worth checking
		wantErr []string // substrings, one per expected error, in order; none: valid
	}{
		{name: "no config block", want: ptr(DefaultConfig())},
		{
			name: "reference example",
			yaml: "frequency: 5000\ncpu_usage: false\nmem_usage: false\ndisk_usage: false\nio_usage: false",
			want: &Config{Frequency: Millis(5 * time.Second), SmoothingFactor: 0.3, SelfUsage: true},
		},
		{name: "duration", yaml: "frequency: 2s\nsmoothing_factor: 1", want: &Config{Frequency: Millis(2 * time.Second), SmoothingFactor: 1,
			SelfUsage: true, CPUUsage: true, MemUsage: true, DiskUsage: true, IOUsage: true}},
		{name: "humantime", yaml: "frequency: 1 min"},
		{name: "zero", yaml: "frequency: 0", wantErr: []string{"config.frequency: must be at least 10ms, got 0s (hint: use milliseconds such as 1000"}},
		{name: "a unit mistake", yaml: "frequency: 5", wantErr: []string{"config.frequency: must be at least 10ms, got 5ms"}},
		{name: "negative", yaml: "frequency: -1", wantErr: []string{`config.frequency: invalid number of milliseconds "-1" (hint: write milliseconds as an integer (1000), or a duration such as 1s or 500ms)`}},
		{name: "not a time", yaml: "frequency: often", wantErr: []string{`config.frequency: invalid duration "often"`}},
		{name: "a list", yaml: "frequency: [1]", wantErr: []string{"config.frequency: want milliseconds or a duration, got a sequence"}},
		{name: "smoothing 0", yaml: "smoothing_factor: 0", wantErr: []string{"config.smoothing_factor: must be in (0, 1], got 0 (hint: use a number above 0 and at most 1"}},
		{name: "smoothing above 1", yaml: "smoothing_factor: 1.5", wantErr: []string{"config.smoothing_factor: must be in (0, 1], got 1.5"}},
		{name: "smoothing NaN", yaml: "smoothing_factor: .nan", wantErr: []string{"config.smoothing_factor: must be in (0, 1], got NaN"}},
		{name: "unknown key", yaml: "interval: 1s", wantErr: []string{`config.interval: unknown field "interval"`}},
		{name: "wrong type", yaml: "cpu_usage: sometimes", wantErr: []string{"config.cpu_usage"}},
		{name: "every error", yaml: "frequency: 1\nsmoothing_factor: 2", wantErr: []string{"config.frequency", "config.smoothing_factor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFactory()
			err := nodetest.ValidateConfig(f, tt.yaml)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tt.want != nil {
					n, _ := nodetest.NodeConfig(f.Type, tt.yaml, nil)
					got, err := decodeConfig(n)
					if err != nil || got != *tt.want {
						t.Fatalf("decoded %+v (%v), want %+v", got, err, *tt.want)
					}
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

func ptr[T any](v T) *T { return &v }
