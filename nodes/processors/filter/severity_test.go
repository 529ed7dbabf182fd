package filter_test

import (
	"strings"
	"testing"

	"github.com/ackflow/ackflow/nodes/processors/filter"
)

// Every name of the log data model reads as its number, in any case and
// with or without SEVERITY_NUMBER_; near misses are refused.
func TestParseSeverityEveryName(t *testing.T) {
	want := filter.Severity(1)
	for _, base := range []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"} {
		for k, suffix := range []string{"", "2", "3", "4"} {
			name := base + suffix
			for _, spelling := range []string{name, strings.ToLower(name), "SEVERITY_NUMBER_" + name, " severity_number_" + strings.ToLower(name) + " "} {
				got, err := filter.ParseSeverity(spelling)
				if err != nil || got != want+filter.Severity(k) {
					t.Errorf("ParseSeverity(%q) = %d, %v; want %d", spelling, got, err, want+filter.Severity(k))
				}
			}
		}
		want += 4
	}
	for _, bad := range []string{"WARN1", "WARN5", "WARN22", "WARNING", "INF", "", "SEVERITY_NUMBER_", "25", "-1"} {
		if got, err := filter.ParseSeverity(bad); err == nil {
			t.Errorf("ParseSeverity(%q) = %d, want an error", bad, got)
		}
	}
}
