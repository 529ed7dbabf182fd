package retry_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/retry"
)

func TestDefaultConfig(t *testing.T) {
	got := retry.DefaultConfig()
	want := retry.Config{
		InitialInterval:     config.Duration(time.Second),
		MaxInterval:         config.Duration(30 * time.Second),
		Multiplier:          1.5,
		RandomizationFactor: 0.5,
		MaxElapsedTime:      config.Duration(5 * time.Minute),
		MaxRetries:          0,
		MaxParked:           1000,
	}
	if got != want {
		t.Fatalf("DefaultConfig() = %+v, want %+v", got, want)
	}
	if err := got.Validate(config.Path{}.Key("config")); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		ports   []string
		wantErr []string // substrings, one per expected error, in order; none: valid
	}{
		{name: "no config block", yaml: ""},
		{name: "every key", yaml: `
initial_interval: 200ms
max_interval: 1m
multiplier: 2
randomization_factor: 0
max_elapsed_time: 0
max_retries: 10
max_parked: 1`},
		{name: "humantime durations", yaml: "initial_interval: 1 sec\nmax_interval: 2 minutes\n"},
		{name: "multiplier 1 keeps the wait constant", yaml: "multiplier: 1"},
		{name: "max_interval equal to initial_interval", yaml: "initial_interval: 5s\nmax_interval: 5s"},
		{name: "max_elapsed_time equal to initial_interval", yaml: "max_elapsed_time: 1s"},
		{
			name:    "zero initial_interval",
			yaml:    "initial_interval: 0",
			wantErr: []string{"config.initial_interval: must be greater than 0, got 0s (hint: use a positive duration such as 1s)"},
		},
		{
			name:    "negative initial_interval",
			yaml:    "initial_interval: -1s",
			wantErr: []string{"config.initial_interval: must be greater than 0, got -1s"},
		},
		{
			name:    "zero max_interval",
			yaml:    "max_interval: 0",
			wantErr: []string{"config.max_interval: must be greater than 0, got 0s (hint: use a positive duration such as 30s)"},
		},
		{
			name:    "max_interval below initial_interval",
			yaml:    "initial_interval: 10s\nmax_interval: 5s",
			wantErr: []string{"config.max_interval: 5s is less than initial_interval 10s (hint: raise max_interval to at least initial_interval, or lower initial_interval)"},
		},
		{
			name:    "multiplier below 1",
			yaml:    "multiplier: 0.5",
			wantErr: []string{"config.multiplier: must be at least 1, got 0.5 (hint: use a finite number of at least 1"},
		},
		{name: "multiplier NaN", yaml: "multiplier: .nan", wantErr: []string{"config.multiplier: must be at least 1, got NaN"}},
		{name: "multiplier infinite", yaml: "multiplier: .inf", wantErr: []string{"config.multiplier: must be at least 1, got +Inf"}},
		{
			name:    "randomization_factor 1",
			yaml:    "randomization_factor: 1",
			wantErr: []string{"config.randomization_factor: must be in [0, 1), got 1 (hint: use a number from 0 (no jitter) up to, but not including, 1"},
		},
		{name: "negative randomization_factor", yaml: "randomization_factor: -0.1", wantErr: []string{"config.randomization_factor: must be in [0, 1), got -0.1"}},
		{
			name:    "negative max_elapsed_time",
			yaml:    "max_elapsed_time: -5m",
			wantErr: []string{"config.max_elapsed_time: must not be negative, got -5m0s (hint: use a positive duration such as 5m, or 0 for no limit)"},
		},
		{
			name:    "max_elapsed_time below the first wait",
			yaml:    "initial_interval: 2s\nmax_elapsed_time: 500ms",
			wantErr: []string{"config.max_elapsed_time: 500ms is less than initial_interval 2s: no retry could ever be made (hint: raise max_elapsed_time to at least initial_interval, or set 0 for no limit)"},
		},
		{
			name:    "negative max_retries",
			yaml:    "max_retries: -1",
			wantErr: []string{"config.max_retries: must not be negative, got -1 (hint: use a whole number of retries such as 5, or 0 for no limit)"},
		},
		{
			name:    "zero max_parked",
			yaml:    "max_parked: 0",
			wantErr: []string{"config.max_parked: must be at least 1, got 0 (hint: use a number of messages such as 1000 (the default): the node admits no more messages than it can hold for a retry, and pauses intake at the bound)"},
		},
		{name: "negative max_parked", yaml: "max_parked: -5", wantErr: []string{"config.max_parked: must be at least 1, got -5"}},
		{name: "max_parked wrong type", yaml: "max_parked: lots", wantErr: []string{"config.max_parked"}},
		{
			name:    "several errors at once",
			yaml:    "initial_interval: 0\nmultiplier: 0\nrandomization_factor: 2\nmax_retries: -3",
			wantErr: []string{"config.initial_interval", "config.multiplier", "config.randomization_factor", "config.max_retries"},
		},
		{name: "unknown key", yaml: "max_retry: 3", wantErr: []string{`config.max_retry: unknown field "max_retry"`}},
		{name: "bare number duration", yaml: "initial_interval: 5", wantErr: []string{"config.initial_interval"}},
		{name: "wrong type", yaml: "max_retries: many", wantErr: []string{"config.max_retries"}},
		{
			name:    "several outputs",
			ports:   []string{"a", "b"},
			wantErr: []string{"outputs: processor:retry sends on a single output, got 2 (a, b) and no default_output (hint: declare a single output, or name the one it sends to with default_output"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := nodetest.ValidateConfig(retry.NewFactory(), tt.yaml, tt.ports...)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			errs := config.Errors(err)
			if len(errs) != len(tt.wantErr) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tt.wantErr), err)
			}
			for i, want := range tt.wantErr {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d = %q\nwant it to contain %q", i, errs[i].Error(), want)
				}
			}
		})
	}
}

func TestValidationErrorsAreInvalidValues(t *testing.T) {
	err := nodetest.ValidateConfig(retry.NewFactory(), "multiplier: 0")
	if !errors.Is(err, config.ErrInvalidValue) {
		t.Fatalf("error %v does not wrap config.ErrInvalidValue", err)
	}
}

func TestFactory(t *testing.T) {
	f := retry.NewFactory()
	if f.Type != "processor:retry" || f.NewProcessor == nil || f.NewReceiver != nil || f.Description == "" {
		t.Fatalf("factory = %+v", f)
	}
	good, err := nodetest.NodeConfig(f.Type, "max_retries: 3", nil)
	if err != nil {
		t.Fatal(err)
	}
	// No clock or logger: the node falls back to the wall clock and a
	// discarding logger rather than failing.
	if _, err := f.NewProcessor(engine.NodeContext{Node: good}); err != nil {
		t.Fatalf("NewProcessor: %v", err)
	}
	bad, err := nodetest.NodeConfig(f.Type, "multiplier: 0", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.NewProcessor(engine.NodeContext{Node: bad})
	if err == nil || !strings.Contains(err.Error(), `processor:retry "node": `) || !errors.Is(err, config.ErrInvalidValue) {
		t.Fatalf("NewProcessor with an invalid config: %v", err)
	}
}
