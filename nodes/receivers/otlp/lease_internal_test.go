package otlp

import (
	"context"
	"testing"
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

// A gRPC request refused at admission because other requests hold
// max_in_flight_bytes never enters the pipeline: its buffers go back for
// reuse at once, like those of every other refusal.
func TestBudgetRefusalGivesTheRequestBuffersBack(t *testing.T) {
	c := newCore(clock.NewFake(time.Unix(0, 0)), newMetrics(telemetry.NewRegistry(), nil), 100, true)
	c.inFlightBytes.Store(100) // other requests hold the whole budget
	p, err := fromProtobuf(pdata.Logs, [][]byte{pdatatest.LogsBytes("a", 1, 0, 32)})
	if err != nil {
		t.Fatal(err)
	}
	freed := 0
	p.Borrow(c.leaseOf(pdata.NewLease(func() { freed++ })))
	if r := c.admit(context.Background(), protoGRPC, &settings{}, pdata.Logs, p, 50, nil); r.v != vBudget {
		t.Fatalf("admit answered %+v, want a budget refusal", r)
	}
	if freed != 1 {
		t.Fatalf("request buffers given back %d times after a budget refusal, want once", freed)
	}
}
