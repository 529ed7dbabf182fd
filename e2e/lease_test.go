package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/internal/testsink"
	"github.com/ackflow/ackflow/pdata"
)

// Processor chains between receiver:otlp ("in") and exporter:otlp_grpc
// ("out") that release payloads, so that the receiver gives its gRPC
// buffers back for reuse.
const (
	// batchChain cuts requests across batches: one request's buffers are
	// in several batches, and an input can be nacked while another batch
	// holding its data is in flight.
	batchChain = `
          batch:
            type: processor:batch
            config: { max_batch_duration: 5ms, otlp: { min_size: 8KiB, max_size: 24KiB } }
        connections:
          - { from: in, to: batch }
          - { from: batch, to: out }`
	// sampleChain retries, then cuts each request to its first records as
	// slices of the received buffers.
	sampleChain = `
          retry:
            type: processor:retry
            config: { initial_interval: 10ms, max_elapsed_time: 50ms }
          sample:
            type: processor:log_sampling
            config: { policy: { ratio: { emit: 3, out_of: 4 } } }
        connections:
          - { from: in, to: retry }
          - { from: retry, to: sample }
          - { from: sample, to: out }`
)

// grpcIn starts the nodes of a pipeline with receiver:otlp "in", gRPC
// only.
const grpcIn = `
        nodes:
          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
`

// leaseYAML is receiver:otlp → chain → exporter:otlp_grpc to sinkAddr
// with the given export timeout.
func leaseYAML(sinkAddr, timeout, chain string) string {
	return yamlDoc("", grpcIn+fmt.Sprintf(`          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://%s", timeout: %s }%s
`, sinkAddr, timeout, chain))
}

// fanoutLeaseYAML is receiver:otlp → processor:fanout (fanConfig, ports
// primary and backup) → exporter:otlp_grpc per port, the backup's copies
// first through node "via" when backupVia (its YAML) is not empty.
func fanoutLeaseYAML(fanConfig, backupVia, primaryAddr, backupAddr string) string {
	backup := `
          - { from: 'fan["backup"]', to: out_backup }`
	if backupVia != "" {
		backup = `
          - { from: 'fan["backup"]', to: via }
          - { from: via, to: out_backup }`
	}
	return yamlDoc("", grpcIn+fmt.Sprintf(`          fan:
            type: processor:fanout
            outputs: [primary, backup]
            config: %s
          out_primary: { type: exporter:otlp_grpc, config: { grpc_endpoint: "http://%s" } }
          out_backup: { type: exporter:otlp_grpc, config: { grpc_endpoint: "http://%s" } }%s
        connections:
          - { from: in, to: fan }
          - { from: 'fan["primary"]', to: out_primary }%s
`, fanConfig, primaryAddr, backupAddr, backupVia, backup))
}

// checkCodes reports every client whose answer is not want.
func checkCodes(t *testing.T, got []codes.Code, want codes.Code) bool {
	t.Helper()
	ok := true
	for i, c := range got {
		if c != want {
			t.Errorf("request %d: %v, want %v", i, c, want)
			ok = false
		}
	}
	return ok
}

// exportTimeout is the exporter's timeout for a sink in mode: short where
// the test waits for it (a hanging sink), else long enough for a loaded
// machine.
func exportTimeout(mode testsink.Mode) string {
	if mode == testsink.Hang {
		return "300ms"
	}
	return "10s"
}

// sendConcurrently sends n distinct log requests of items records over
// gRPC at once and returns the codes the clients got and the keys sent.
func sendConcurrently(t *testing.T, p *pipe, tag string, n, items int) ([]codes.Code, []string) {
	t.Helper()
	conn := dialGRPC(t, p.grpcAddr)
	ctx := callCtx(t)
	got := make([]codes.Code, n)
	var keys []string
	var wg sync.WaitGroup
	for i := range n {
		pl := makePayload("logs", fmt.Sprintf("%s.%d", tag, i), items)
		keys = append(keys, pl.Keys...)
		wg.Go(func() { got[i] = status.Code(pl.Export(ctx, conn)) })
	}
	wg.Wait()
	return got, keys
}

// TestRequestBuffersGoBackOnEveryPath: whatever the outcome — delivered,
// refused transiently or permanently, or the export timing out while the
// destination holds the call — every request's gRPC buffers are given
// back once nothing reads them any more, and what arrives is intact while
// other requests reuse the memory.
func TestRequestBuffersGoBackOnEveryPath(t *testing.T) {
	for _, chain := range []struct{ name, yaml string }{{"batch", batchChain}, {"retry and sampling", sampleChain}} {
		for _, row := range []struct {
			name string
			mode testsink.Mode
			want codes.Code
		}{
			{"delivered", testsink.OK, codes.OK},
			{"refused transiently", testsink.Transient, codes.Unavailable},
			{"refused permanently", testsink.Permanent, codes.InvalidArgument},
			{"export timeout", testsink.Hang, codes.Unavailable},
		} {
			t.Run(chain.name+"/"+row.name, func(t *testing.T) {
				base := pdata.LiveLeases()
				sink := testsink.New(t)
				sink.SetMode(row.mode)
				p := startPipe(t, leaseYAML(sink.Addr(), exportTimeout(row.mode), chain.yaml), "grpc")
				const requests = 24
				got, keys := sendConcurrently(t, p, row.name, requests, 150)
				checkCodes(t, got, row.want)
				if row.mode == testsink.Hang {
					sink.Release() // the calls the exporter gave up on end now
				}
				waitFor(t, "every lease given back", func() bool { return pdata.LiveLeases() <= base })
				if row.want == codes.OK && chain.yaml == batchChain {
					sink.RequireExactly(t, keys)
				}
				if err := p.shutdown(drainDeadline); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
				if live := pdata.LiveLeases(); live > base {
					t.Errorf("%d leases live after shutdown, %d before the test", live, base)
				}
			})
		}
	}
}

// TestFanoutHoldsBuffersWhileACopyIsInFlight: a fan-out answers on its
// primary while the backup still holds its copies; the request buffers
// are given back only once the backup's calls end.
func TestFanoutHoldsBuffersWhileACopyIsInFlight(t *testing.T) {
	primary, backup := testsink.New(t), hangingSink(t)
	p := startPipe(t, fanoutLeaseYAML(`{ await_ack: primary, destinations: [{ port: primary, primary: true }, { port: backup }] }`,
		"", primary.Addr(), backup.Addr()), "grpc")
	base := pdata.LiveLeases()
	const requests = 8
	got, keys := sendConcurrently(t, p, "fanout", requests, 150)
	if !checkCodes(t, got, codes.OK) {
		t.FailNow()
	}
	primary.RequireExactly(t, keys)
	if live := pdata.LiveLeases() - base; live != requests {
		t.Errorf("%d leases live while the backup holds every copy, want %d", live, requests)
	}
	backup.Release()
	waitFor(t, "every lease given back once the backup answered", func() bool { return pdata.LiveLeases() <= base })
	if err := backup.WaitKeys(keys, waitLimit); err != nil {
		t.Error(err)
	}
}

// TestFanoutPathsGiveBuffersBack: on the full path (a primary that times
// out and fails over to its fallback, whose late answer comes after the
// client's) every lease comes back once the silent primary's calls end;
// fire-and-forget tracks no copy, so it pins them.
func TestFanoutPathsGiveBuffersBack(t *testing.T) {
	for _, row := range []struct {
		name, fan string
		pinned    bool
	}{
		{"failover", `{ await_ack: primary, destinations: [{ port: primary, primary: true, timeout: 100ms }, { port: backup, fallback_for: primary }] }`, false},
		{"fire and forget", `{ await_ack: none, destinations: [{ port: primary }, { port: backup }] }`, true},
	} {
		t.Run(row.name, func(t *testing.T) {
			primary, backup := hangingSink(t), testsink.New(t)
			p := startPipe(t, fanoutLeaseYAML(row.fan, "", primary.Addr(), backup.Addr()), "grpc")
			base := pdata.LiveLeases()
			const requests = 8
			got, keys := sendConcurrently(t, p, row.name, requests, 150)
			if !checkCodes(t, got, codes.OK) {
				t.FailNow()
			}
			if err := backup.WaitKeys(keys, waitLimit); err != nil {
				t.Fatal(err)
			}
			primary.Release()
			if err := primary.WaitKeys(keys, waitLimit); err != nil {
				t.Fatal(err)
			}
			if row.pinned {
				if live := pdata.LiveLeases() - base; live != requests {
					t.Errorf("%d leases live, want all %d pinned", live, requests)
				}
				return
			}
			waitFor(t, "every lease given back", func() bool { return pdata.LiveLeases() <= base })
		})
	}
}

// TestDurableBufferGivesBuffersBackOnceStored: a durable buffer answers
// once the data is in its log and sends what it reads back from the log,
// so the request buffers go back at that answer, before the data is
// delivered. (Below a node that does not declare ReleasesPayloads nothing
// is given back: see engine's TestReceiversReuseBuffersOnlyWhenEveryNodeBelowReleasesPayloads.)
func TestDurableBufferGivesBuffersBackOnceStored(t *testing.T) {
	sink := hangingSink(t)
	p := startPipe(t, yamlDoc("", grpcIn+fmt.Sprintf(`          buf:
            type: processor:durable_buffer
            config: { path: %q }
          out: { type: exporter:otlp_grpc, config: { grpc_endpoint: "http://%s" } }
        connections:
          - { from: in, to: buf }
          - { from: buf, to: out }
`, t.TempDir(), sink.Addr())), "grpc")
	base := pdata.LiveLeases()
	const requests = 8
	got, keys := sendConcurrently(t, p, "stored", requests, 150)
	if !checkCodes(t, got, codes.OK) {
		t.FailNow()
	}
	waitFor(t, "every lease given back while the destination holds the data", func() bool { return pdata.LiveLeases() <= base })
	sink.Release()
	if err := sink.WaitKeys(keys, waitLimit); err != nil {
		t.Fatal(err)
	}
}

// TestHTTPExportGivesBuffersBack: exporter:otlp_http sends an
// uncompressed body straight from the request buffers and holds them until
// net/http closes the body, whatever the destination answered or when the
// export timed out. (A compressed body is a copy, holding nothing.)
func TestHTTPExportGivesBuffersBack(t *testing.T) {
	requireBuffersBackPerOutcome(t, func(t *testing.T, sink *testsink.Sink, timeout string) string {
		return yamlDoc("", grpcIn+fmt.Sprintf(`          out:
            type: exporter:otlp_http
            config: { endpoint: "%s", compression: none, timeout: %s }
        connections:
          - { from: in, to: out }
`, sink.StartHTTP(t), timeout))
	})
}

// requireBuffersBackPerOutcome starts the pipeline pipeline returns (its
// exporter reaching sink, with the export timeout given) once for each
// answer of the destination: delivered, refused transiently, and held
// past the timeout. Every request's buffers must come back, what was
// delivered must arrive intact, and nothing may stay leased after the
// shutdown.
func requireBuffersBackPerOutcome(t *testing.T, pipeline func(t *testing.T, sink *testsink.Sink, timeout string) string) {
	for _, row := range []struct {
		name string
		mode testsink.Mode
		want codes.Code
	}{
		{"delivered", testsink.OK, codes.OK},
		{"refused transiently", testsink.Transient, codes.Unavailable},
		{"export timeout", testsink.Hang, codes.Unavailable},
	} {
		t.Run(row.name, func(t *testing.T) {
			base := pdata.LiveLeases()
			sink := testsink.New(t)
			sink.SetMode(row.mode)
			p := startPipe(t, pipeline(t, sink, exportTimeout(row.mode)), "grpc")
			const requests = 16
			got, keys := sendConcurrently(t, p, row.name, requests, 150)
			checkCodes(t, got, row.want)
			if row.mode == testsink.Hang {
				sink.Release()
			}
			waitFor(t, "every lease given back", func() bool { return pdata.LiveLeases() <= base })
			if row.want == codes.OK {
				sink.RequireExactly(t, keys)
			}
			if err := p.shutdown(drainDeadline); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if live := pdata.LiveLeases(); live > base {
				t.Errorf("%d leases live after shutdown, %d before the test", live, base)
			}
		})
	}
}

// TestHTTPBodiesGoBackToThePool: OTLP/HTTP bodies are read into pooled
// buffers; a protobuf body travels as its payload and goes back through
// its lease once the pipeline is done, with the data intact while other
// requests reuse the memory; a JSON body is decoded and a compressed one
// decompressed, and their buffers go back with the request.
func TestHTTPBodiesGoBackToThePool(t *testing.T) {
	sink := testsink.New(t)
	yaml := strings.NewReplacer(
		`grpc: { listening_addr: "127.0.0.1:0" }`, `grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }`,
	).Replace(leaseYAML(sink.Addr(), "10s", batchChain))
	p := startPipe(t, yaml, "grpc", "http")
	hc := httpClient(t, p)
	ctx := callCtx(t)
	base := pdata.LiveLeases()
	var keys []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 24 {
		media, enc := mediaProto, []string{"", "gzip", "zstd"}[i%3]
		if i%4 == 3 {
			media = mediaJSON
		}
		pl := makePayload("logs", fmt.Sprintf("http.%d", i), 150)
		keys = append(keys, pl.Keys...)
		wg.Go(func() {
			a, err := postHTTP(ctx, hc, p.httpURL, pl, media, enc)
			if err != nil || a.code != 200 {
				mu.Lock()
				t.Errorf("request %d (%s %q): %v %v", i, media, enc, a, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	waitFor(t, "every lease given back", func() bool { return pdata.LiveLeases() <= base })
	sink.RequireExactly(t, keys)
}

// TestFanoutCopyGivesBuffersBackWhenANodeBelowReplacesItsPayload: a copy
// gives back the leases it took, even when a node below it (here an
// attribute edit) sent a different payload on.
func TestFanoutCopyGivesBuffersBackWhenANodeBelowReplacesItsPayload(t *testing.T) {
	primary, backup := testsink.New(t), testsink.New(t)
	p := startPipe(t, fanoutLeaseYAML(`{ await_ack: primary, destinations: [{ port: primary, primary: true }, { port: backup }] }`, `
          via:
            type: processor:attribute
            config: { apply_to: [signal], actions: [{ action: upsert, key: copied, value: "yes" }] }`,
		primary.Addr(), backup.Addr()), "grpc")
	base := pdata.LiveLeases()
	const requests = 8
	got, keys := sendConcurrently(t, p, "edited", requests, 150)
	if !checkCodes(t, got, codes.OK) {
		t.FailNow()
	}
	primary.RequireExactly(t, keys)
	if err := backup.WaitItems(len(keys), waitLimit); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every lease given back", func() bool { return pdata.LiveLeases() <= base })
}

// TestOTAPExportGivesBuffersBack: exporter:otap reads a request only to
// encode it into Arrow records, so the receiver in front of it reuses its
// gRPC buffers; they come back whatever the OTAP destination answered,
// and when the export gave up while the destination still held the batch
// (an encoding under way finishes before the export returns). What
// arrives through the OTAP hop is intact while other requests reuse the
// memory.
func TestOTAPExportGivesBuffersBack(t *testing.T) {
	requireBuffersBackPerOutcome(t, func(t *testing.T, sink *testsink.Sink, timeout string) string {
		// The OTAP destination: receiver:otap answers each batch after
		// the sink answered its OTLP export.
		dest := startPipe(t, yamlDoc("", fmt.Sprintf(`
        nodes:
          in:
            type: receiver:otap
            config: { listening_addr: "127.0.0.1:0", wait_for_result: true, timeout: 30s }
          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://%s", timeout: 10s }
        connections:
          - { from: in, to: out }
`, sink.Addr())), "otap")
		return yamlDoc("", grpcIn+fmt.Sprintf(`          out:
            type: exporter:otap
            config: { grpc_endpoint: "http://%s", timeout: %s }
        connections:
          - { from: in, to: out }
`, dest.otapAddr, timeout))
	})
}
