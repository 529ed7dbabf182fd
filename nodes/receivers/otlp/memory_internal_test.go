package otlp

import (
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/internal/memlimit"
	"github.com/ackflow/ackflow/telemetry"
)

// A request is refused before its body is read when the process is near
// its memory limit, with a retryable answer that says so; the byte budget
// is checked first, and neither refuses with no pressure and room left.
func TestRefuseEarlyOnMemoryPressure(t *testing.T) {
	c := newCore(clock.NewFake(time.Unix(0, 0)), newMetrics(telemetry.NewRegistry(), nil), 1<<20, false)
	reading := memlimit.Reading{Used: 10 << 20, Limit: 100 << 20}
	c.memory = func() memlimit.Reading { return reading }
	if r, refused := c.refuseEarly(); refused {
		t.Fatalf("refused with room left: %+v", r)
	}
	reading.Used = 90 << 20
	r, refused := c.refuseEarly()
	if !refused || r.v != vMemory || !strings.Contains(r.msg, "memory limit of 100 MiB") || !strings.Contains(r.msg, "retry") {
		t.Fatalf("at 90%% of the limit: %+v, %t; want a memory refusal", r, refused)
	}
	if grpcCodes[vMemory].String() != "Unavailable" || httpStatus[vMemory] != 503 {
		t.Fatalf("memory refusal answered %s / %d, want retryable", grpcCodes[vMemory], httpStatus[vMemory])
	}
	c.inFlightBytes.Store(1 << 20)
	if r, _ := c.refuseEarly(); r.v != vBudget {
		t.Fatalf("over the byte budget and the memory limit: %v, want the budget first", r.v)
	}
}
