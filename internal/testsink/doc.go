// Package testsink is an OTLP/gRPC destination for tests that the test
// controls while it runs: it answers OK, fails transiently or permanently,
// hangs, answers slowly, goes away (connection refused) and comes back on
// the same address. It decodes every request, records each accepted item by
// its key and counts calls, items, duplicates and concurrency, so a test can
// check exactly what a pipeline delivered.
//
// It is a normal package so that the tests of e2e/ and cmd/ackflow/ can
// share it; no production code imports it.
//
// # Quick start
//
//	s := testsink.New(t) // 127.0.0.1, a free port; stopped at t.Cleanup
//	cfg := "grpc_endpoint: " + s.Endpoint()
//	req := testsink.NewRequest(testsink.SignalLogs, "req-1", 10)
//	... send req through the pipeline under test ...
//	if err := s.WaitKeys(req.Keys, 10*time.Second); err != nil {
//		t.Fatal(err)
//	}
//
// # Modes
//
// What a call is answered is decided when it arrives:
//
//	SetMode(OK)         accept (the default)
//	SetMode(Transient)  UNAVAILABLE
//	SetMode(Permanent)  INVALID_ARGUMENT
//	SetMode(Hang)       wait until Release, Close or the caller's deadline;
//	                    a released call is accepted
//	SetDelay(d)         answer every call d late (slow)
//	SetRate(bps)        answer as if the calls shared a link of bps bytes/s
//	Close()             stop the server: connections refused, calls in
//	                    progress fail
//	Restart()           serve again on the same address; the records stay
//	SetDecide(f)        a verdict per call (f sees the call's number, keys,
//	                    earlier tries of the same request), overriding the mode
//
// StartHTTP adds an OTLP/HTTP (protobuf) front that shares the verdicts and
// the records, for the tests of the HTTP exporter.
//
// # Item keys
//
// An item is a log record, a span or a metric data point. Its key is built
// from every field the generators of this package set, with its resource
// and scope (LogKeys, MetricKeys, TraceKeys), so two items have equal keys
// only if they are equal. NewRequest, Logs, Metrics and Traces build data
// whose items have keys unique to their tag: give each request its own tag
// and every item sent in a test has its own key. An item accepted twice is a
// duplicate.
//
// # Concurrency
//
// A Sink is safe for concurrent use. Waits (WaitItems, WaitKeys, WaitUntil)
// are woken by every change of the records, never poll, and are bounded by
// their timeout. Stop ends every goroutine the sink started; Close and
// Restart may be called any number of times in any order before it.
package testsink
