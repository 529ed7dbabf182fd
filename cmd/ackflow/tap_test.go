package main

import (
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestTapPrintsOTLPJSONSamples(t *testing.T) {
	cmd, url := started(t, writeConfig(t, topConfig))
	defer stopProcess(t, cmd)
	addr := strings.TrimPrefix(url, "http://")
	stdout, stderr, code := runBinary(t, "tap", "--admin", addr, "--limit", "4", "--rate", "0", "fan:side")
	if code != exitOK {
		t.Fatalf("tap: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), stdout)
	}
	for i, l := range lines {
		ld, lerr := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(l))
		td, terr := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(l))
		if (lerr != nil || ld.LogRecordCount() == 0) && (terr != nil || td.SpanCount() == 0) {
			t.Fatalf("line %d is neither OTLP JSON logs nor traces: %v %v\n%.300s", i, lerr, terr, l)
		}
	}
	if !strings.Contains(stderr, "tapping g/p fan[side]") || !strings.Contains(stderr, "4 samples") {
		t.Errorf("stderr: %s", stderr)
	}
	// Flags after the node work too; the default port is used without one.
	if stdout, stderr, code := runBinary(t, "tap", "gen", "--admin", addr, "--limit", "1"); code != exitOK || strings.Count(stdout, "\n") != 1 ||
		!strings.Contains(stderr, "g/p gen[default]") {
		t.Errorf("tap gen: exit %d, %s\n%.200s", code, stderr, stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, "unknown node"},
		{[]string{"out"}, "exporter"},
		{[]string{"fan:nope"}, "unknown output port"},
		{[]string{"--rate", "fast", "gen"}, "rate"},
		{[]string{}, "usage"},
	} {
		_, stderr, code := runBinary(t, append([]string{"tap", "--admin", addr}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("tap %v: exit %d, want %d mentioning %q: %s", tc.args, code, exitUsage, tc.want, stderr)
		}
	}
}
