package main

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/internal/testsink"
	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// These check the soak's own pieces without a process: the schedule, the
// parsing of ackflow's output, and that the hostile bodies are what the
// receiver must refuse.

func TestPlanRestartsHasBothKindsInOrderWithinTheLoad(t *testing.T) {
	for _, d := range []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute} {
		for seed := range uint64(50) {
			plan := planRestarts(rand.New(rand.NewPCG(seed, 1)), d)
			kinds := map[string]int{}
			var last time.Duration
			for _, r := range plan {
				kinds[r.kind]++
				if r.at <= last || r.at > d-10*time.Second {
					t.Fatalf("d=%s seed=%d: restart at %s after %s, or too close to the end: %v", d, seed, r.at, last, plan)
				}
				last = r.at
			}
			if kinds[restartTerm] == 0 || kinds[restartKill] == 0 || len(plan) < max(2, int(d/(40*time.Second))) {
				t.Fatalf("d=%s seed=%d: plan %v lacks a kind or restarts", d, seed, plan)
			}
		}
	}
}

func TestLifeParsesListenersSummaryAndCrashes(t *testing.T) {
	l := &life{ready: make(chan struct{}), flows: map[string]flow{}}
	for _, line := range []string{
		`time=2026-12-04T19:45:17.942Z level=INFO msg="ackflow started" pipelines="soak/fanout×1, soak/durable×1" admin=http://127.0.0.1:40585`,
		`time=2026-12-04T19:45:17.943Z level=INFO msg="otlp receiver listening" pipeline=soak/durable copy=0 node=in protocol=grpc addr=127.0.0.1:34271 tls=false max_connections=1024 process_connection_limit=10000`,
		`time=2026-12-04T19:45:17.943Z level=INFO msg="otlp receiver listening" pipeline=soak/durable copy=0 node=in protocol=http addr=127.0.0.1:42953 tls=false max_connections=1024 process_connection_limit=10000`,
		`time=2026-12-04T19:45:17.943Z level=INFO msg="otlp receiver listening" pipeline=soak/fanout copy=0 node=in protocol=grpc addr=127.0.0.1:34183 tls=false max_connections=1024 process_connection_limit=10000`,
	} {
		l.parse(line)
	}
	if l.isReady {
		t.Fatal("ready with one listener missing")
	}
	for _, line := range []string{
		`time=2026-12-04T19:45:17.943Z level=INFO msg="otlp receiver listening" pipeline=soak/fanout copy=0 node=in protocol=http addr=127.0.0.1:35355 tls=false max_connections=1024 process_connection_limit=10000`,
		`pipeline soak/fanout: 10 items received, 7 delivered, 3 nacked, 0 dropped, 0 in flight at exit`,
		`pipeline soak/durable: 5 items received, 4 delivered, 0 nacked, 0 dropped, 1 in flight at exit`,
		`  buf (copy 0): 12 items kept for the next run in /tmp/x/buffer/copy-0`,
		`panic: runtime error: index out of range`,
	} {
		l.parse(line)
	}
	want := targets{
		grpc:  [2]string{"127.0.0.1:34183", "127.0.0.1:34271"},
		http:  [2]string{"http://127.0.0.1:35355", "http://127.0.0.1:42953"},
		admin: "http://127.0.0.1:40585",
	}
	if !l.isReady || l.t != want {
		t.Fatalf("targets %+v (ready %t), want %+v", l.t, l.isReady, want)
	}
	if f := l.flows["soak/fanout"]; !f.balanced() || f.delivered != 7 {
		t.Errorf("fanout flow %v", f)
	}
	if f := l.flows["soak/durable"]; f.balanced() {
		t.Errorf("durable flow %v balances with 1 in flight", f)
	}
	if l.kept != 12 || !strings.HasPrefix(l.crash, "panic:") {
		t.Errorf("kept %d, crash %q", l.kept, l.crash)
	}
}

func TestParseStatusMemory(t *testing.T) {
	rss, hwm, err := parseStatusMemory("Name:\tackflow\nVmHWM:\t   25100 kB\nVmRSS:\t   20000 kB\n")
	if err != nil || rss != 20000<<10 || hwm != 25100<<10 {
		t.Fatalf("rss %d hwm %d err %v", rss, hwm, err)
	}
	if _, _, err := parseStatusMemory("Name:\tackflow\n"); err == nil {
		t.Fatal("no error without the lines")
	}
}

func TestHostileProtobufIsMalformedAndNormalIsNot(t *testing.T) {
	if _, err := otlpwire.Scan(otlpwire.Logs, deepLogs(otlpwire.MaxValueDepth+1)); err == nil {
		t.Error("a body one level too deep passes the wire scan")
	}
	if _, err := otlpwire.Scan(otlpwire.Logs, deepLogs(otlpwire.MaxValueDepth)); err != nil {
		t.Errorf("a body at the depth limit: %v", err)
	}
	r := testsink.NewRequest(testsink.SignalTraces, "t", 8)
	b := r.Proto()
	if _, err := otlpwire.Scan(otlpwire.Traces, b); err != nil {
		t.Fatalf("a normal request: %v", err)
	}
	for cut := 1; cut <= 8; cut++ {
		if _, err := otlpwire.Scan(otlpwire.Traces, b[:len(b)-cut]); err == nil {
			t.Errorf("cut by %d bytes: passes the wire scan", cut)
		}
	}
}

func TestNormalizeHidesPortsAndFraming(t *testing.T) {
	got := normalize("dial tcp 127.0.0.1:4317:\x00 connection refused")
	if got != "dial tcp 127.0.0.1:PORT:  connection refused" {
		t.Fatalf("%q", got)
	}
	msg := "more than max_in_flight_bytes"
	pb := append([]byte{0x08, 0x0e, 0x12, byte(len(msg))}, msg...)
	if got := statusMessage("application/x-protobuf", pb); got != msg {
		t.Errorf("protobuf status: %q", got)
	}
	if got := statusMessage("application/json", []byte(`{"code":14,"message":"`+msg+`"}`)); got != msg {
		t.Errorf("JSON status: %q", got)
	}
}
