package fanout_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/fanout"
)

var ports3 = []string{"primary", "backup", "analytics"}

func TestValidate(t *testing.T) {
	many := func(n int) (string, []string) {
		var b strings.Builder
		var ports []string
		b.WriteString("destinations:\n")
		for i := range n {
			p := fmt.Sprintf("p%d", i)
			ports = append(ports, p)
			fmt.Fprintf(&b, "  - {port: %s}\n", p)
		}
		return b.String(), ports
	}
	cfg65, ports65 := many(65)
	cfg64, ports64 := many(64)
	tests := []struct {
		name  string
		yaml  string
		ports []string
		// want lists, per expected error, its path and substrings of its
		// text (message and hint). nil: valid.
		want []wantErr
	}{
		{name: "reference example", yaml: `
mode: parallel
await_ack: primary
max_inflight: 10000
destinations:
  - { port: primary, primary: true, timeout: 5s }
  - { port: backup, fallback_for: primary, timeout: 10s }
  - { port: analytics }
`},
		{name: "defaults with one destination", yaml: "destinations: [{port: primary}]"},
		{name: "timeout_check_interval accepted and ignored", yaml: "timeout_check_interval: 1s\ndestinations: [{port: primary}]"},
		{name: "chain of fallbacks", yaml: `
destinations:
  - { port: primary }
  - { port: backup, fallback_for: primary }
  - { port: analytics, fallback_for: backup }
`},
		{name: "sequential with none is accepted", yaml: "mode: sequential\nawait_ack: none\ndestinations: [{port: primary}, {port: backup}]"},
		{name: "64 destinations", yaml: cfg64, ports: ports64},
		{name: "no destinations", yaml: "await_ack: all",
			want: []wantErr{{"config.destinations", []string{"no destinations", "port: primary"}}}},
		{name: "empty destinations", yaml: "destinations: []",
			want: []wantErr{{"config.destinations", []string{"at least one"}}}},
		{name: "more than 64", yaml: cfg65, ports: ports65,
			want: []wantErr{{"config.destinations", []string{"65 destinations", "at most 64", "split"}}}},
		{name: "unknown mode", yaml: "mode: fast\ndestinations: [{port: primary}]",
			want: []wantErr{{"config.mode", []string{`"fast"`, "parallel or sequential"}}}},
		{name: "unknown await_ack", yaml: "await_ack: some\ndestinations: [{port: primary}]",
			want: []wantErr{{"config.await_ack", []string{`"some"`, "none, primary or all"}}}},
		{name: "negative max_inflight", yaml: "max_inflight: -1\ndestinations: [{port: primary}]",
			want: []wantErr{{"config.max_inflight", []string{"must be at least 1, got -1", "such as 10000 (the default)", "rate × the longest destination timeout"}}}},
		{name: "zero max_inflight with await_ack primary", yaml: "max_inflight: 0\ndestinations: [{port: primary}]",
			want: []wantErr{{"config.max_inflight", []string{"0 (no limit) is not allowed with await_ack: primary", "grow without bound", "such as 10000 (the default)", "only with await_ack: none"}}}},
		{name: "zero max_inflight with await_ack all", yaml: "await_ack: all\nmax_inflight: 0\ndestinations: [{port: primary}]",
			want: []wantErr{{"config.max_inflight", []string{"not allowed with await_ack: all"}}}},
		{name: "zero max_inflight with await_ack none is ignored", yaml: "await_ack: none\nmax_inflight: 0\ndestinations: [{port: primary}]"},
		{name: "max_trailing", yaml: "max_trailing: 50\ndestinations: [{port: primary}]"},
		{name: "zero max_trailing stops tracking answered inputs", yaml: "max_trailing: 0\ndestinations: [{port: primary}]"},
		{name: "negative max_trailing", yaml: "max_trailing: -5\ndestinations: [{port: primary}]",
			want: []wantErr{{"config.max_trailing", []string{"must not be negative, got -5", "such as 10000 (the default)", "0 to stop tracking copies once the input is answered"}}}},
		{name: "port not in outputs", yaml: "destinations: [{port: primary}, {port: archive}]",
			want: []wantErr{{"config.destinations[1].port", []string{`"archive"`, "not an output", `add "archive" to the node's outputs`}}}},
		{name: "missing port", yaml: "destinations: [{primary: true}]",
			want: []wantErr{{"config.destinations[0].port", []string{"no port", "primary, backup, analytics"}}}},
		{name: "port listed twice", yaml: "destinations: [{port: primary}, {port: backup}, {port: primary}]",
			want: []wantErr{{"config.destinations[2].port", []string{`"primary"`, "destinations[0]", "list each output port once"}}}},
		{name: "primary marked as fallback", yaml: "destinations: [{port: primary, primary: true, fallback_for: backup}, {port: backup}]",
			want: []wantErr{{"config.destinations[0].fallback_for", []string{`"primary" is the primary`, "remove fallback_for from the primary"}}}},
		{name: "implicit primary is a fallback", yaml: "destinations: [{port: backup, fallback_for: primary}, {port: primary}]",
			want: []wantErr{{"config.destinations[0].fallback_for", []string{`"backup" is the primary`, "none is marked primary", "primary: true"}}}},
		{name: "two primaries", yaml: "destinations: [{port: primary, primary: true}, {port: backup, primary: true}]",
			want: []wantErr{{"config.destinations[1].primary", []string{`"backup"`, `"primary"`, "exactly one"}}}},
		{name: "fallback_for names no destination", yaml: "destinations: [{port: primary}, {port: backup, fallback_for: nowhere}]",
			want: []wantErr{{"config.destinations[1].fallback_for", []string{`"nowhere"`, "names no destination", "another destination"}}}},
		{name: "fallback_for names an output that is no destination", yaml: "destinations: [{port: primary}, {port: backup, fallback_for: analytics}]",
			want: []wantErr{{"config.destinations[1].fallback_for", []string{`"analytics"`, `add a destination for port "analytics"`}}}},
		{name: "self fallback", yaml: "destinations: [{port: primary}, {port: backup, fallback_for: backup}]",
			want: []wantErr{{"config.destinations[1].fallback_for", []string{`"backup" is its own fallback`}}}},
		{name: "fallback cycle", yaml: "destinations: [{port: primary}, {port: backup, fallback_for: analytics}, {port: analytics, fallback_for: backup}]",
			want: []wantErr{{"config.destinations[1].fallback_for", []string{"fallback cycle: backup -> analytics -> backup", "must end"}}}},
		{name: "two fallbacks for one port", yaml: "destinations: [{port: primary}, {port: backup, fallback_for: primary}, {port: analytics, fallback_for: primary}]",
			want: []wantErr{{"config.destinations[2].fallback_for", []string{`"backup" and "analytics"`, `both fallbacks for "primary"`, `set fallback_for of "analytics" to "backup"`}}}},
		{name: "await none with fallback", yaml: "await_ack: none\ndestinations: [{port: primary}, {port: backup, fallback_for: primary}]",
			want: []wantErr{{"config.destinations[1].fallback_for", []string{`"backup"`, "await_ack: none", "set await_ack to primary or all"}}}},
		{name: "await none with timeout", yaml: "await_ack: none\ndestinations: [{port: primary, timeout: 5s}]",
			want: []wantErr{{"config.destinations[0].timeout", []string{`"primary" has a timeout`, "await_ack: none", "remove the timeout"}}}},
		{name: "zero timeout", yaml: "destinations: [{port: primary, timeout: 0s}]",
			want: []wantErr{{"config.destinations[0].timeout", []string{`"primary"`, "greater than 0", "5s"}}}},
		{name: "negative timeout", yaml: "destinations: [{port: primary, timeout: -1s}]",
			want: []wantErr{{"config.destinations[0].timeout", []string{"greater than 0, got -1s"}}}},
		{name: "every problem reported at once", yaml: `
await_ack: none
destinations:
  - { port: primary, timeout: 0s }
  - { port: backup, fallback_for: primary }
  - { port: backup }
`, want: []wantErr{
			{"config.destinations[0].timeout", []string{"greater than 0"}},
			{"config.destinations[0].timeout", []string{"await_ack: none"}},
			{"config.destinations[1].fallback_for", []string{"await_ack: none"}},
			{"config.destinations[2].port", []string{"already used"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ports := tt.ports
			if ports == nil {
				ports = ports3
			}
			err := nodetest.ValidateConfig(fanout.NewFactory(), tt.yaml, ports...)
			checkErrs(t, err, tt.want)
		})
	}
}

type wantErr struct {
	path     string
	contains []string
}

func checkErrs(t *testing.T, err error, want []wantErr) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %d", len(want))
	}
	got := config.Errors(err)
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
	for i, w := range want {
		e := got[i]
		if e.Path.String() != w.path {
			t.Errorf("error %d at %q, want %q: %v", i, e.Path.String(), w.path, e)
		}
		if !errors.Is(e, config.ErrInvalidValue) {
			t.Errorf("error %d is not ErrInvalidValue: %v", i, e)
		}
		for _, s := range w.contains {
			if !strings.Contains(e.Msg+" (hint: "+e.Hint+")", s) {
				t.Errorf("error %d %q does not contain %q", i, e.Error(), s)
			}
		}
	}
}

func TestValidateDecodeErrors(t *testing.T) {
	tests := []struct {
		name, yaml, path string
		class            error
	}{
		{"unknown field", "destinations: [{port: primary, primry: true}]", "config.destinations[0].primry", config.ErrUnknownField},
		{"bad duration", "destinations: [{port: primary, timeout: soon}]", "config.destinations[0].timeout", config.ErrInvalidValue},
		{"wrong type", "max_inflight: lots\ndestinations: [{port: primary}]", "config.max_inflight", config.ErrType},
		{"max_trailing wrong type", "max_trailing: many\ndestinations: [{port: primary}]", "config.max_trailing", config.ErrType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := nodetest.ValidateConfig(fanout.NewFactory(), tt.yaml, ports3...)
			errs := config.Errors(err)
			if len(errs) != 1 || errs[0].Path.String() != tt.path || !errors.Is(errs[0], tt.class) {
				t.Fatalf("got %v, want one %v at %s", err, tt.class, tt.path)
			}
		})
	}
}

// The factory refuses to build what Validate rejects, with the node named.
func TestNewProcessorRejectsInvalidConfig(t *testing.T) {
	n, err := nodetest.NodeConfig(fanout.Type, "destinations: []", ports3)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fanout.NewFactory().NewProcessor(newNodeContext(n))
	if err == nil || !strings.Contains(err.Error(), `processor:fanout "node"`) {
		t.Fatalf("got %v", err)
	}
}
