package console

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string
	}{
		{name: "no config", yaml: ""},
		{name: "every key", yaml: "interval: 10s\nverbosity: detailed"},
		{name: "humantime", yaml: "interval: 2 minutes"},
		{
			name: "unknown key", yaml: "formt: text",
			wantErr: []string{`config.formt: unknown field "formt" (hint: did you mean "format"?`},
		},
		{name: "the reference engine's keys, accepted and reported", yaml: "format: pretty\ncolor: false\nunicode: false\npretty: { histogram: raw }"},
		{
			name: "zero interval", yaml: "interval: 0",
			wantErr: []string{"config.interval: must be at least 1ms, got 0s (hint: use a duration such as 1s or 10s)"},
		},
		{
			name: "negative interval", yaml: "interval: -1s",
			wantErr: []string{"config.interval: must be at least 1ms, got -1s"},
		},
		{
			name: "bare number", yaml: "interval: 5",
			wantErr: []string{`config.interval: invalid duration "5": missing unit after 5`},
		},
		{
			name: "bad verbosity", yaml: "verbosity: normal",
			wantErr: []string{`config.verbosity: unknown verbosity "normal" (hint: use basic (summaries only) or detailed`},
		},
		{
			name: "both", yaml: "interval: 1us\nverbosity: ''",
			wantErr: []string{"config.interval: must be at least 1ms, got 1µs", "config.verbosity: unknown verbosity"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := config.Errors(nodetest.ValidateConfig(NewFactory(), tt.yaml))
			if len(errs) != len(tt.wantErr) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(tt.wantErr), errs)
			}
			for i, want := range tt.wantErr {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d = %q\nwant it to contain %q", i, errs[i].Error(), want)
				}
			}
		})
	}
}

// at is the prefix of a line printed at d after the harness's start.
func at(d time.Duration) string { return clockTime(nodetest.Start.Add(d)) }

func TestSummaries(t *testing.T) {
	var out bytes.Buffer
	h := nodetest.New(t, newFactory(&out), "interval: 2s")
	var ids []uint64
	send := func(p *pdata.Payload) { ids = append(ids, h.SendPData(pdata.New(p))) }

	for range 10 {
		send(pdatatest.Logs(100))
	}
	send(pdatatest.Metrics(6))
	h.RequireAcked(ids...) // every message is acked at once
	ids = nil
	h.Advance(2 * time.Second) // first tick: 1000 logs and 6 points in 2s
	for range 3 {
		send(pdatatest.Logs(100))
	}
	h.Advance(2 * time.Second) // second tick: metrics idle
	h.Advance(time.Second)
	send(pdatatest.Traces(7))
	h.Shutdown(h.Clock.Now())
	h.RequireAcked(ids...)

	want := strings.Join([]string{
		at(2*time.Second) + " node logs: 500 items/s, 5.0 msgs/s | total 1000 items, 10 msgs",
		at(2*time.Second) + " node metrics: 3.0 items/s, 0.5 msgs/s | total 6 items, 1 msgs",
		at(4*time.Second) + " node logs: 150 items/s, 1.5 msgs/s | total 1300 items, 13 msgs",
		at(4*time.Second) + " node metrics: 0.0 items/s, 0.0 msgs/s | total 6 items, 1 msgs",
		at(5*time.Second) + " node logs: final: 1300 items, 13 msgs in 5s (260 items/s)",
		at(5*time.Second) + " node metrics: final: 6 items, 1 msgs in 5s (1.2 items/s)",
		at(5*time.Second) + " node traces: final: 7 items, 1 msgs in 5s (1.4 items/s)",
	}, "\n") + "\n"
	if got := out.String(); got != want {
		t.Fatalf("output:\n%s\nwant:\n%s", got, want)
	}
}

func TestDetailedPrintsEachMessage(t *testing.T) {
	var out bytes.Buffer
	h := nodetest.New(t, newFactory(&out), "verbosity: detailed")
	p := pdatatest.Logs(3)
	id := h.SendPData(pdata.New(p))
	id2 := h.SendPData(pdata.New(pdata.FromTraces(pdatatest.TracesData("x", 2))))
	h.RequireAcked(id, id2)
	h.ForceShutdown()
	want := at(0) + " node logs message: 3 items, " + strconv.Itoa(p.Bytes()) + " bytes\n" +
		at(0) + " node traces message: 2 items\n" + // decoded: no byte size
		at(0) + " node logs: final: 3 items, 1 msgs in 0s (- items/s)\n" + // no time to divide by
		at(0) + " node traces: final: 2 items, 1 msgs in 0s (- items/s)\n"
	if got := out.String(); got != want {
		t.Fatalf("output:\n%s\nwant:\n%s", got, want)
	}
}

func TestShutdownWithoutData(t *testing.T) {
	var out bytes.Buffer
	h := nodetest.New(t, newFactory(&out), "")
	h.Advance(3 * time.Second) // no timer before the first message: no lines
	h.Shutdown(h.Clock.Now())
	h.Shutdown(h.Clock.Now()) // printed once
	if got, want := out.String(), at(3*time.Second)+" node: final: no data received\n"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write([]byte) (int, error) { w.n++; return 0, errors.New("stdout closed") }

// A failed write does not stop acks.
func TestWriteFailureStillAcks(t *testing.T) {
	w := &failingWriter{}
	h := nodetest.New(t, newFactory(w), "verbosity: detailed")
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	h.RequireAcked(id)
	h.Advance(time.Second)
	if w.n != 2 {
		t.Fatalf("%d writes attempted, want 2 (message, summary)", w.n)
	}
}
