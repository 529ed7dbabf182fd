package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mergeBomb is the merge-key bomb: nine levels of groups each
// merging the one before nine times, 9^9 keys from a kilobyte.
func mergeBomb() string {
	var b strings.Builder
	b.WriteString("version: otel_dataflow/v1\ngroups:\n  g0: &m0 { a: 1 }\n")
	for i := 1; i <= 9; i++ {
		ref := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d, ", i-1), 9), ", ")
		fmt.Fprintf(&b, "  g%d: &m%d { <<: [%s] }\n", i, i, ref)
	}
	return b.String()
}

// Documents that crashed ackflow (a stack overflow, exit 2), ran for
// minutes, or buried one mistake under follow-up errors: each gets one
// clear error and the configuration exit code, at once.
func TestValidateReportsOneClearError(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{
			name: "merge key referring to its own mapping",
			yaml: `version: otel_dataflow/v1
groups:
  g: &self
    <<: *self
    pipelines: { p: { nodes: { in: { type: receiver:otlp }, out: { type: exporter:noop } }, connections: [{ from: in, to: out }] } }
`,
			wantErr: "config.yaml:4:9: groups.g.<<: alias *self refers to a value that contains it (anchor &self at line 3), which would repeat forever (hint: ",
		},
		{
			name:    "merge keys nested nine levels",
			yaml:    mergeBomb(),
			wantErr: "config.yaml:9:33: groups.g6.<<[3]: alias *m5 stands for 199290 values, and with it aliases would add more than 1000000 values to the document, the limit (hint: ",
		},
		{
			name: "a key twice in a connection",
			yaml: `version: otel_dataflow/v1
engine: { http_admin: { bind_address: "127.0.0.1:0" } }
groups:
  g:
    pipelines:
      p:
        nodes:
          gen: { type: receiver:traffic_generator }
          a: { type: exporter:noop }
          b: { type: exporter:noop }
        connections:
          - { from: gen, to: a, to: b }
`,
			wantErr: `config.yaml:12:33: groups.g.pipelines.p.connections[0].to: key "to" is set twice (first at line 12) (hint: remove one of them)`,
		},
		{
			name:    "admin API on every interface",
			yaml:    strings.Replace(finiteConfig(10), `"127.0.0.1:0"`, `"0.0.0.0:8080"`, 1),
			wantErr: `config.yaml:4:31: engine.http_admin.bind_address: bind_address "0.0.0.0:8080" is not a loopback address, and the admin API (shutdown, status, metrics) is served off the local host only with an auth token`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, tt.yaml)
			for _, cmd := range []string{"validate", "run"} {
				_, stderr, code := runBinary(t, cmd, "--config", cfg)
				if code != exitUsage {
					t.Fatalf("%s: exit %d, want %d (configuration); stderr:\n%.3000s", cmd, code, exitUsage, stderr)
				}
				want := "invalid configuration: 1 error(s)\n  " + filepath.Dir(cfg) + "/" + tt.wantErr
				if !strings.HasPrefix(stderr, want) {
					t.Errorf("%s: stderr\n%s\nwant it to start with\n%s", cmd, stderr, want)
				}
			}
		})
	}
}

func TestValidateRefusesAHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(50 << 20); err != nil { // sparse: nothing is written
		t.Fatal(err)
	}
	f.Close()
	_, stderr, code := runBinary(t, "validate", "--config", path)
	want := path + ": the file is 52428800 bytes, over the limit of 16777216 bytes (16MiB)"
	if code != exitUsage || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, want)
	}
}

// Exit code 2 is the Go runtime's, on a crash: ackflow never uses it for a
// mistake of the user's.
func TestExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{}, exitUsage},
		{[]string{"frobnicate"}, exitUsage},
		{[]string{"validate"}, exitUsage},
		{[]string{"validate", "--no-such-flag"}, exitUsage},
		{[]string{"run", "--log-level", "loud"}, exitUsage},
		{[]string{"loadgen", "--no-such-flag"}, exitUsage},
		{[]string{"validate", "-h"}, exitOK},
		{[]string{"run", "-h"}, exitOK},
		{[]string{"help"}, exitOK},
	}
	for _, tt := range tests {
		if _, stderr, code := runBinary(t, tt.args...); code != tt.want || code == exitCrash {
			t.Errorf("ackflow %v: exit %d, want %d; stderr:\n%s", tt.args, code, tt.want, stderr)
		}
	}
	stdout, _, _ := runBinary(t, "--help")
	for _, want := range []string{"Exit codes:", "1  runtime failure", "2  crash", "3  invalid configuration, flags or command"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--help lacks %q:\n%s", want, stdout)
		}
	}
}

// BenchmarkValidate measures `ackflow validate` without the process: read,
// parse, validate every node with the real registry, and the engine's
// wiring check, for one pipeline chaining n nodes.
func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{10_000, 80_000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			var y strings.Builder
			y.WriteString("version: otel_dataflow/v1\ngroups:\n  g:\n    pipelines:\n      p:\n        nodes:\n")
			y.WriteString("          n0: { type: receiver:traffic_generator }\n")
			for i := 1; i < n-1; i++ {
				fmt.Fprintf(&y, "          n%d: { type: processor:debug }\n", i)
			}
			fmt.Fprintf(&y, "          n%d: { type: exporter:noop }\n        connections:\n", n-1)
			for i := range n - 1 {
				fmt.Fprintf(&y, "          - { from: n%d, to: n%d }\n", i, i+1)
			}
			path := filepath.Join(b.TempDir(), "chain.yaml")
			if err := os.WriteFile(path, []byte(y.String()), 0o600); err != nil {
				b.Fatal(err)
			}
			reg := registry()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := load(path, reg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
		})
	}
}
