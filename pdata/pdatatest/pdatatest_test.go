package pdatatest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The benchmark load keeps the shape docs/BENCHMARKS.md states: 4
// resources of 2 scopes up to 1,999 records, one resource per 250 records
// beyond, records of about 185 bytes, and the same bytes for the same n.
func TestBenchLogsShape(t *testing.T) {
	for _, tc := range []struct{ n, resources int }{{1000, 4}, {1001, 4}, {10000, 40}} {
		ld := pdatatest.BenchLogsData(tc.n)
		if got := ld.LogRecordCount(); got != tc.n {
			t.Errorf("n=%d: %d records", tc.n, got)
		}
		if got := ld.ResourceLogs().Len(); got != tc.resources {
			t.Errorf("n=%d: %d resources, want %d", tc.n, got, tc.resources)
		}
		for _, rl := range ld.ResourceLogs().All() {
			if rl.ScopeLogs().Len() != 2 {
				t.Fatalf("n=%d: a resource has %d scopes, want 2", tc.n, rl.ScopeLogs().Len())
			}
		}
		b := pdatatest.BenchLogsBytes(tc.n)
		if per := len(b) / tc.n; per < 175 || per > 195 {
			t.Errorf("n=%d: %d bytes per record, want about 185", tc.n, per)
		}
		if string(b) != string(pdatatest.BenchLogsBytes(tc.n)) {
			t.Errorf("n=%d: two calls encode different bytes", tc.n)
		}
		if p, err := pdata.FromOTLP(pdata.Logs, b); err != nil || p.Items() != tc.n {
			t.Errorf("n=%d: the request does not scan back to its records: %v", tc.n, err)
		}
	}
}
