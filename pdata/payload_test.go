package pdata_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otlpwire"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestFromOTLPCountsWithoutDecoding(t *testing.T) {
	b := pdatatest.LogsBytes("a", 25, 10, 40)
	p, err := pdata.FromOTLP(pdata.Logs, b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Items() != 25 || p.Bytes() != len(b) || p.Form() != pdata.FormOTLP {
		t.Fatalf("items=%d bytes=%d form=%v", p.Items(), p.Bytes(), p.Form())
	}
	if got := pdatatest.LogBodies(t, p); len(got) != 25 || got[24][:7] != "log-a-2" {
		t.Fatalf("decoded %d records, last %q", len(got), got[len(got)-1])
	}
}

func TestFromOTLPRejectsMalformed(t *testing.T) {
	b := pdatatest.LogsBytes("a", 3, 0, 10)
	_, err := pdata.FromOTLP(pdata.Logs, b[:len(b)-3])
	if !errors.Is(err, otlpwire.ErrMalformed) {
		t.Fatalf("truncated request: err = %v, want ErrMalformed", err)
	}
}

func TestConcatIsZeroCopyAndDecodesToUnion(t *testing.T) {
	a, b := pdatatest.LogsPayload("a", 3, 0, 8), pdatatest.LogsPayload("b", 2, 0, 8)
	c, err := pdata.Concat(pdata.Logs, a, b)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := a.Chunks()
	cc, _ := c.Chunks()
	if &cc[0][0] != &ca[0][0] {
		t.Fatal("Concat copied the bytes of its first input")
	}
	want := append(pdatatest.LogBodies(t, a), pdatatest.LogBodies(t, b)...)
	if got := pdatatest.LogBodies(t, c); !slices.Equal(got, want) || c.Items() != 5 {
		t.Fatalf("concat decodes to %v (%d items), want %v", got, c.Items(), want)
	}
}

func TestDecodedPayloadEncodesOnDemand(t *testing.T) {
	p := pdata.FromLogs(pdatatest.LogsData("d", 4, 0, 8))
	if p.Form() != pdata.FormDecoded || p.Items() != 4 {
		t.Fatalf("form=%v items=%d", p.Form(), p.Items())
	}
	b, err := p.AppendOTLP(nil)
	if err != nil || len(b) != p.Bytes() {
		t.Fatalf("AppendOTLP: %d bytes, err %v; Bytes() = %d", len(b), err, p.Bytes())
	}
	back, err := pdata.FromOTLP(pdata.Logs, b)
	if err != nil || back.Items() != 4 {
		t.Fatalf("round trip: %v, %d items", err, back.Items())
	}
	if _, err := p.Metrics(); err == nil {
		t.Fatal("Metrics() on a logs payload should fail")
	}
}

func TestSignalsOtherThanLogs(t *testing.T) {
	if p := pdatatest.Metrics(7); p.Items() != 7 || p.Signal() != pdata.Metrics {
		t.Fatalf("metrics payload: %d items, %v", p.Items(), p.Signal())
	}
	if p := pdatatest.Traces(5); p.Items() != 5 || p.Signal() != pdata.Traces {
		t.Fatalf("traces payload: %d items, %v", p.Items(), p.Signal())
	}
}

// A request in a transport's buffers is scanned and kept as those buffers
// (no copy): Chunks returns them, Requests joins them into one whole
// request once, and a Concat with it is framed too.
func TestFromOTLPBuffersKeepsTheBuffers(t *testing.T) {
	b := pdatatest.LogsBytes("a", 25, 10, 40)
	bufs := [][]byte{b[:100:100], b[100:101:101], b[101:]}
	p, err := pdata.FromOTLPBuffers(pdata.Logs, bufs)
	if err != nil {
		t.Fatal(err)
	}
	if p.Items() != 25 || p.Bytes() != len(b) {
		t.Fatalf("items=%d bytes=%d", p.Items(), p.Bytes())
	}
	chunks, _ := p.Chunks()
	if len(chunks) != 3 || &chunks[2][0] != &b[101] {
		t.Fatal("Chunks does not return the buffers as they are")
	}
	reqs, err := p.Requests()
	if err != nil || len(reqs) != 1 || !slices.Equal(reqs[0], b) {
		t.Fatalf("Requests = %d chunks, %v; want the joined request", len(reqs), err)
	}
	if again, _ := p.Requests(); &again[0][0] != &reqs[0][0] {
		t.Fatal("Requests joined twice")
	}
	if got := pdatatest.LogBodies(t, p); len(got) != 25 {
		t.Fatalf("decoded %d records", len(got))
	}
	whole := pdatatest.LogsPayload("b", 2, 0, 8)
	if reqs, _ := whole.Requests(); len(reqs) != 1 {
		t.Fatalf("a whole request: %d requests", len(reqs))
	}
	c, err := pdata.Concat(pdata.Logs, whole, p)
	if err != nil {
		t.Fatal(err)
	}
	reqs, _ = c.Requests()
	if len(reqs) != 1 || c.Items() != 27 || len(reqs[0]) != c.Bytes() {
		t.Fatalf("concat with a framed payload: %d requests, %d items", len(reqs), c.Items())
	}
	if _, err := pdata.FromOTLPBuffers(pdata.Logs, [][]byte{b[:50], b[50 : len(b)-3]}); !errors.Is(err, otlpwire.ErrMalformed) {
		t.Fatalf("truncated request in buffers: err = %v, want ErrMalformed", err)
	}
}
