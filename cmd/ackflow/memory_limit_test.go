package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/ackflow/ackflow/internal/testsink"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// engine.memory_limit (issue 17): with no byte budget in the receiver
// (max_in_flight_bytes: 0) and a destination that holds every export,
// 150 clients send 1 MB requests at once. Admitted data stays live, so
// without a limit the process would hold all of it; with a 64 MiB limit
// the receiver refuses new requests UNAVAILABLE once the process is near
// the limit, before their bodies are read, and memory stays bounded. Once
// the destination answers, the admitted requests are delivered and the
// process serves again.
func TestMemoryLimitRefusesBeforeTheHeapGrows(t *testing.T) {
	sink := testsink.New(t)
	sink.SetMode(testsink.Hang)
	cfg := fmt.Sprintf(`
version: otel_dataflow/v1
engine:
  http_admin: { bind_address: "127.0.0.1:0" }
  memory_limit: 64MiB
  shutdown_timeout: 15s
groups:
  g:
    pipelines:
      p:
        nodes:
          in:
            type: receiver:otlp
            config:
              max_in_flight_bytes: 0
              timeout: 60s
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "%s", max_in_flight: 200, timeout: 60s }
        connections:
          - { from: in, to: out }
`, sink.Endpoint())
	o := startHostile(t, cfg, 0)
	if !strings.Contains(o.process.String(), "memory limit set") {
		t.Fatalf("the memory limit is not logged:\n%s", o.process)
	}
	req := pdatatest.LogsBytes("m", 1000, 0, 1000) // about 1 MB
	const clients = 150
	var wg sync.WaitGroup
	answers := make(chan string, clients)
	for range clients {
		wg.Go(func() {
			code, msg := rawGRPC(t, o.grpcAddr, logsService, "", req)
			answers <- fmt.Sprintf("%s %s", code, msg)
		})
	}
	o.waitMetric(t, "memory refusals", func() bool {
		return o.metric(t, "ackflow_receiver_otlp_requests_total", "outcome", "memory") > 0
	})
	peak := o.procStatus(t, "VmHWM")
	sink.Release()
	wg.Wait()
	close(answers)
	var memory, ok int
	for a := range answers {
		switch {
		case strings.HasPrefix(a, codes.OK.String()):
			ok++
		case strings.HasPrefix(a, codes.Unavailable.String()) && strings.Contains(a, "memory limit"):
			memory++
		}
	}
	t.Logf("peak RSS %d MiB with %d clients of 1 MB behind a hanging destination: %d OK, %d refused for memory", peak>>20, clients, ok, memory)
	if memory == 0 || ok == 0 || ok+memory != clients {
		t.Fatalf("%d OK and %d refused for memory of %d, want both and nothing else", ok, memory, clients)
	}
	if peak > 160<<20 {
		t.Fatalf("peak RSS %d MiB with a 64 MiB memory limit", peak>>20)
	}
	// The burst's data is garbage now, but the heap live at the last
	// collection still counts until a reading older than
	// memlimit.RefreshInterval forces a new one: a client retrying
	// "retry later" as told gets through within a few tries.
	small := pdatatest.LogsBytes("s", 1, 0, 10)
	o.waitMetric(t, "a small request accepted after the burst", func() bool {
		code, _ := rawGRPC(t, o.grpcAddr, logsService, "", small)
		return code == codes.OK
	})
	o.requireServing(t)
	o.requireAlive(t)
}
