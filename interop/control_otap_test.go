package interop

import "testing"

// TestOTAPControlCollectorToCollector is the OTAP tests' control: the
// same clients, collector configurations, content checks and refusals
// with the collector on both sides of the OTAP hop, so that a failure of
// the tests with ackflow is not the harness's.
func TestOTAPControlCollectorToCollector(t *testing.T) {
	sink := startSink(t)
	backOTAP := freeAddr(t)
	back := startCollectorBin(t, bins.otelarrowcol, "otelarrowcol-back", collectorOTAPToSink(backOTAP, sink.addr), backOTAP)

	exps := []arrowExporter{
		{name: "defaults"},
		{name: "plain", compression: "none", payload: "none"},
		{name: "retry", compression: "none", retry: true},
	}
	recv := map[string]string{}
	var listens []string
	for _, e := range exps {
		recv[e.name] = freeAddr(t)
		listens = append(listens, recv[e.name])
	}
	front := startCollectorBin(t, bins.otelarrowcol, "otelarrowcol-front", collectorToOTAP(recv, exps, backOTAP), listens...)

	deliverAll(t, sink, "defaults", recv["defaults"])
	deliverAll(t, sink, "plain", recv["plain"])
	t.Run("nacks_no_retry", func(t *testing.T) {
		runNacks(t, sink, recv["plain"], tries(1, 1), tries(1, 1))
	})
	t.Run("nacks_retry", func(t *testing.T) {
		runNacks(t, sink, recv["retry"], tries(1, 1), tries(2, 100))
	})
	for _, p := range []*proc{front, back} {
		if code := p.stop(t); code != 0 {
			t.Errorf("%s exited with code %d after SIGTERM", p.name, code)
		}
	}
	requireLogLines(t, front, collectorNackLines...)
}
