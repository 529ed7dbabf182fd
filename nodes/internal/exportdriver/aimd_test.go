package exportdriver_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/internal/exportdriver"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// sharedLink plays a destination whose bandwidth is shared by the exports
// in flight: an export takes perExport × (exports in flight when it
// starts). Past a few at once, every export outlives the timeout.
type sharedLink struct {
	perExport time.Duration
	inFlight  atomic.Int32
}

func (l *sharedLink) Export(ctx context.Context, _ *pdata.Payload) exportdriver.Result {
	n := l.inFlight.Add(1)
	defer l.inFlight.Add(-1)
	t := time.NewTimer(l.perExport * time.Duration(n))
	defer t.Stop()
	select {
	case <-t.C:
		return exportdriver.Result{Status: "ok"}
	case <-ctx.Done():
		return exportdriver.Result{Status: "connection_error", Err: errors.New("stream reset")}
	}
}

func (l *sharedLink) Close() error { return nil }

// Against a destination that cannot take 16 exports at once within the
// timeout, a fixed limit of 16 delivers nothing; the adaptive limit backs
// off until exports complete, and counts the failures as timeouts.
func TestAdaptiveLimitDeliversThroughASlowDestination(t *testing.T) {
	link := &sharedLink{perExport: 20 * time.Millisecond}
	var metrics *exportdriver.Metrics
	factory := engine.Factory{
		Type: "exporter:slow",
		NewProcessor: func(nc engine.NodeContext) (engine.Processor, error) {
			metrics = exportdriver.NewMetrics(nc.Metrics, "ackflow_exporter_slow", nc.Labels)
			return exportdriver.NewDriver(exportdriver.DriverConfig{
				Name: "slow", Timeout: 100 * time.Millisecond, MaxInFlight: 16, Metrics: metrics,
			}, link), nil
		},
	}
	h := nodetest.New(t, factory, "")
	const inputs = 120
	for range inputs {
		h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	}
	deadline := time.Now().Add(20 * time.Second)
	for h.Pending() > 0 || h.Queued() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still %d in flight, %d queued after 20s", h.Pending(), h.Queued())
		}
		h.WaitAsync(time.Second)
	}
	acked := 0
	for _, o := range h.TakeUpstream() {
		if o.Kind == engine.KindAck {
			acked++
		} else if o.Nack.Cause != pdata.CauseTimeout {
			t.Fatalf("nack with cause %v (%s), want timeout", o.Nack.Cause, o.Nack.Reason)
		}
	}
	timeouts := metrics.Requests(pdata.Logs, "timeout")
	if acked < inputs/2 {
		t.Fatalf("acked %d of %d (timeouts %d): the limit did not adapt", acked, inputs, timeouts)
	}
	if timeouts == 0 || metrics.Requests(pdata.Logs, "connection_error") != 0 {
		t.Fatalf("timeouts counted %d, connection_error %d: a timeout must count as timeout",
			timeouts, metrics.Requests(pdata.Logs, "connection_error"))
	}
	if l := metrics.Limit(); l >= 16 {
		t.Fatalf("limit %d: never backed off", l)
	}
	h.Shutdown(time.Now())
}
