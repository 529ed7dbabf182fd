package e2e

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/ackflow/ackflow/internal/testsink"
)

// fanoutYAML is receiver:otlp → processor:fanout (await the primary, 200ms
// timeout, backup as its fallback) → one exporter:otlp_grpc per
// destination.
func fanoutYAML(primaryAddr, backupAddr string) string {
	return yamlDoc("", fmt.Sprintf(`
        nodes:
          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          fan:
            type: processor:fanout
            outputs: [primary, backup]
            config:
              await_ack: primary
              destinations:
                - { port: primary, primary: true, timeout: 200ms }
                - { port: backup, fallback_for: primary }
          out_primary:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://%s" }
          out_backup:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://%s" }
        connections:
          - { from: in, to: fan }
          - { from: 'fan["primary"]', to: out_primary }
          - { from: 'fan["backup"]', to: out_backup }
`, primaryAddr, backupAddr))
}

// TestFanoutFailover sends every signal over gRPC and HTTP through a
// fan-out whose primary is healthy, down (nothing listens), or silent
// (hangs past its 200ms timeout), with a healthy or dead backup.
func TestFanoutFailover(t *testing.T) {
	type dest int
	const (
		healthy dest = iota
		down
		silent
	)
	ok := want{codes.OK, 200, false}
	unavailable := want{codes.Unavailable, 503, true}
	rows := []struct {
		name             string
		primary, backup  dest
		want             want
		primaryGets      bool // the primary ends up with every item
		backupGets       bool // the backup ends up with every item
		delivered        bool // the clients' data counts as delivered
		backupNeverAsked bool
	}{
		{"primary healthy", healthy, healthy, ok, true, false, true, true},
		{"primary down", down, healthy, ok, false, true, true, false},
		{"primary silent", silent, healthy, ok, true, true, true, false},
		{"both down", down, down, unavailable, false, false, false, false},
		{"primary silent backup down", silent, down, unavailable, true, false, false, false},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			addr := func(d dest) (string, *testsink.Sink) {
				switch d {
				case down:
					return deadAddr(t), nil
				case silent:
					s := hangingSink(t)
					return s.Addr(), s
				}
				s := newSink(t, nil)
				return s.Addr(), s
			}
			pAddr, primary := addr(row.primary)
			bAddr, backup := addr(row.backup)
			p := startPipe(t, fanoutYAML(pAddr, bAddr), "grpc", "http")
			sent := sendAll(t, p, "fanout", row.want)
			if primary != nil {
				// Release a silent primary: its late answers are ignored,
				// and the drain waits for them.
				primary.Release()
			}
			if err := p.shutdown(drainDeadline); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			for _, d := range []struct {
				name string
				s    *testsink.Sink
				gets bool
			}{{"primary", primary, row.primaryGets}, {"backup", backup, row.backupGets}} {
				if d.s == nil {
					continue
				}
				if d.gets {
					d.s.RequireExactly(t, sent)
				} else {
					d.s.RequireExactly(t, nil)
				}
			}
			if row.backupNeverAsked && backup.Stats().Calls != 0 {
				t.Errorf("backup got %d calls although the primary acked everything", backup.Stats().Calls)
			}
			if row.primary == silent {
				// Every copy to the primary timed out; its answers, once
				// released, came late and were ignored.
				requests := float64(3 * len(signals)) // sendAll
				for _, m := range []string{"ackflow_processor_fanout_timed_out_total", "ackflow_processor_fanout_late_answers_total"} {
					if got := p.metric(m, "destination", "primary"); got != requests {
						t.Errorf("%s{destination=primary} = %v, want %v", m, got, requests)
					}
				}
			}
			n := uint64(len(sent))
			if row.delivered {
				p.requireFlow(t, n, n, 0)
			} else {
				p.requireFlow(t, n, 0, n)
			}
		})
	}
}
