package testsink_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/internal/testsink"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait of these tests; nothing waits for it to pass.
const wait = 10 * time.Second

// dial returns a client of s, closed at the end of the test.
func dial(t *testing.T, s *testsink.Sink) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// export sends r and returns the call's status code.
func export(t *testing.T, cc *grpc.ClientConn, r testsink.Request) codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return status.Code(r.Export(ctx, cc))
}

// exportAsync sends r on another goroutine; the code arrives on the channel.
func exportAsync(ctx context.Context, cc *grpc.ClientConn, r testsink.Request) <-chan codes.Code {
	c := make(chan codes.Code, 1)
	go func() { c <- status.Code(r.Export(ctx, cc)) }()
	return c
}

func recv(t *testing.T, c <-chan codes.Code, what string) codes.Code {
	t.Helper()
	select {
	case code := <-c:
		return code
	case <-time.After(wait):
		t.Fatalf("timed out after %s waiting for %s", wait, what)
		return 0
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOKRecordsEveryItemOfEverySignalAndCountsDuplicates(t *testing.T) {
	s := testsink.New(t)
	cc := dial(t, s)
	var all []string
	for _, sig := range []string{testsink.SignalLogs, testsink.SignalMetrics, testsink.SignalTraces} {
		r := testsink.NewRequest(sig, "ok."+sig, 8)
		all = append(all, r.Keys...)
		if code := export(t, cc, r); code != codes.OK {
			t.Fatalf("%s: %v, want OK", sig, code)
		}
		if sig == testsink.SignalTraces { // the same request twice: duplicates
			all = append(all, r.Keys...)
			if code := export(t, cc, r); code != codes.OK {
				t.Fatalf("%s again: %v, want OK", sig, code)
			}
		}
	}
	s.RequireExactly(t, all)
	st := s.Stats()
	want := testsink.Stats{Calls: 4, OKCalls: 4, Items: 24, Accepted: 32, Duplicates: 8, Bytes: st.Bytes, MaxInFlight: 1}
	if st != want || st.Bytes == 0 {
		t.Errorf("stats = %+v, want %+v with bytes > 0", st, want)
	}
	traces := testsink.NewRequest(testsink.SignalTraces, "ok.traces", 8)
	if got := s.Count(traces.Keys[3]); got != 2 {
		t.Errorf("Count of a span sent twice = %d, want 2", got)
	}
	if got := s.Tries(traces.Keys[0]); got != 2 {
		t.Errorf("Tries of a request sent twice = %d, want 2", got)
	}
	if got := s.Counts(); len(got) != 24 {
		t.Errorf("Counts has %d keys, want 24", len(got))
	}
}

func TestFailingModesAnswerTheirCodeAndRecordNothing(t *testing.T) {
	for _, row := range []struct {
		mode testsink.Mode
		want codes.Code
	}{
		{testsink.Transient, codes.Unavailable},
		{testsink.Permanent, codes.InvalidArgument},
	} {
		t.Run(row.mode.String(), func(t *testing.T) {
			s := testsink.New(t)
			s.SetMode(row.mode)
			r := testsink.NewRequest(testsink.SignalLogs, "fail", 4)
			if code := export(t, dial(t, s), r); code != row.want {
				t.Fatalf("answer %v, want %v", code, row.want)
			}
			s.RequireExactly(t, nil)
			if st := s.Stats(); st.Calls != 1 || st.FailedCalls != 1 || st.OKCalls != 0 || !s.AllArrived(r.Keys) {
				t.Errorf("stats = %+v, want 1 failed call that carried every key", st)
			}
			s.SetMode(testsink.OK)
			if code := export(t, dial(t, s), r); code != codes.OK {
				t.Fatalf("after SetMode(OK): %v", code)
			}
			s.RequireExactly(t, r.Keys)
		})
	}
}

func TestHangHoldsUntilReleaseThenAccepts(t *testing.T) {
	s := testsink.New(t)
	s.SetMode(testsink.Hang)
	cc := dial(t, s)
	var answers []<-chan codes.Code
	var keys []string
	for i := range 5 {
		r := testsink.NewRequest(testsink.SignalLogs, fmt.Sprintf("hang.%d", i), 4)
		keys = append(keys, r.Keys...)
		answers = append(answers, exportAsync(t.Context(), cc, r))
	}
	must(t, s.WaitUntil("5 hanging calls", wait, func(st testsink.Stats) bool { return st.InFlight == 5 }))
	for i, c := range answers {
		select {
		case code := <-c:
			t.Fatalf("call %d answered %v while the sink hangs", i, code)
		default:
		}
	}
	s.Release()
	for i, c := range answers {
		if code := recv(t, c, "a released call"); code != codes.OK {
			t.Errorf("call %d: %v after Release, want OK", i, code)
		}
	}
	s.RequireExactly(t, keys)
	if st := s.Stats(); st.MaxInFlight != 5 || st.InFlight != 0 {
		t.Errorf("stats = %+v, want max in flight 5, none now", st)
	}

	// Released: later calls pass, until Hold.
	late := testsink.NewRequest(testsink.SignalLogs, "hang.late", 4)
	if code := export(t, cc, late); code != codes.OK {
		t.Fatalf("a call after Release: %v", code)
	}
	s.Hold()
	held := exportAsync(t.Context(), cc, testsink.NewRequest(testsink.SignalLogs, "hang.held", 4))
	must(t, s.WaitUntil("a call held again", wait, func(st testsink.Stats) bool { return st.InFlight == 1 }))
	s.Release()
	if code := recv(t, held, "the held call"); code != codes.OK {
		t.Errorf("held call: %v after Release", code)
	}
}

func TestHangEndsAtTheCallersDeadline(t *testing.T) {
	s := testsink.New(t)
	s.SetMode(testsink.Hang)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := testsink.NewRequest(testsink.SignalMetrics, "deadline", 4)
	if code := status.Code(r.Export(ctx, dial(t, s))); code != codes.DeadlineExceeded {
		t.Fatalf("answer %v, want DeadlineExceeded", code)
	}
	must(t, s.WaitIdle(wait))
	s.RequireExactly(t, nil)
	if st := s.Stats(); st.FailedCalls != 1 {
		t.Errorf("stats = %+v, want the call counted as failed", st)
	}
}

func TestDelayAndRateSlowTheAnswers(t *testing.T) {
	s := testsink.New(t)
	cc := dial(t, s)
	const delay = 150 * time.Millisecond
	s.SetDelay(delay)
	start := time.Now()
	r := testsink.NewRequest(testsink.SignalTraces, "slow", 4)
	if code := export(t, cc, r); code != codes.OK {
		t.Fatal(code)
	}
	if el := time.Since(start); el < delay {
		t.Errorf("answered after %s, want at least the delay %s", el, delay)
	}

	// Rate: each request takes a tenth of a second of the link; four sent
	// at once share it, so the last answer comes after 0.4s at least.
	s.SetDelay(0)
	size := len(testsink.NewRequest(testsink.SignalLogs, "rate.0", 40).Proto())
	s.SetRate(size * 10)
	start = time.Now()
	var answers []<-chan codes.Code
	for i := range 4 {
		answers = append(answers, exportAsync(t.Context(), cc, testsink.NewRequest(testsink.SignalLogs, fmt.Sprintf("rate.%d", i), 40)))
	}
	for _, c := range answers {
		if code := recv(t, c, "a rate-limited call"); code != codes.OK {
			t.Fatal(code)
		}
	}
	// The size of a request on the wire and as the sink measures it differ
	// by a few bytes at most.
	if el := time.Since(start); el < 350*time.Millisecond {
		t.Errorf("4 requests at 10 requests/s answered in %s, want at least 0.35s", el)
	}
	if st := s.Stats(); st.MaxInFlight < 2 {
		t.Errorf("max in flight %d: the rate-limited calls did not overlap", st.MaxInFlight)
	}
}

func TestCloseRefusesConnectionsAndRestartServesOnTheSameAddress(t *testing.T) {
	s := testsink.New(t)
	addr := s.Addr()
	first := testsink.NewRequest(testsink.SignalLogs, "before", 4)
	if code := export(t, dial(t, s), first); code != codes.OK {
		t.Fatal(code)
	}

	// A call hanging at Close fails; Close returns after it did.
	s.SetMode(testsink.Hang)
	hanging := exportAsync(t.Context(), dial(t, s), testsink.NewRequest(testsink.SignalLogs, "hanging", 4))
	must(t, s.WaitUntil("the hanging call", wait, func(st testsink.Stats) bool { return st.InFlight == 1 }))
	s.Close()
	if st := s.Stats(); st.InFlight != 0 {
		t.Errorf("Close returned with %d calls in flight", st.InFlight)
	}
	if code := recv(t, hanging, "the call hanging at Close"); code != codes.Unavailable && code != codes.Canceled {
		t.Errorf("call hanging at Close: %v, want Unavailable or Canceled", code)
	}
	if s.Running() {
		t.Error("Running after Close")
	}
	s.Close() // idempotent
	if code := export(t, dial(t, s), testsink.NewRequest(testsink.SignalLogs, "closed", 4)); code != codes.Unavailable {
		t.Errorf("a call to a closed sink: %v, want Unavailable (connection refused)", code)
	}

	s.SetMode(testsink.OK)
	must(t, s.Restart())
	if s.Addr() != addr || !s.Running() {
		t.Fatalf("after Restart: %s (running %t), want %s", s.Addr(), s.Running(), addr)
	}
	second := testsink.NewRequest(testsink.SignalLogs, "after", 4)
	if code := export(t, dial(t, s), second); code != codes.OK {
		t.Fatalf("after Restart: %v", code)
	}
	must(t, s.Restart()) // restart a running sink: close, then serve
	s.RequireExactly(t, slices.Concat(first.Keys, second.Keys))
}

func TestStopIsFinal(t *testing.T) {
	s := testsink.New(t)
	s.Stop()
	s.Stop()
	if err := s.Restart(); !errors.Is(err, testsink.ErrStopped) {
		t.Fatalf("Restart after Stop: %v, want ErrStopped", err)
	}
	if s.Running() {
		t.Error("Running after Stop")
	}
}

func TestDecideSeesEachRequestsTries(t *testing.T) {
	s := testsink.New(t)
	s.SetDecide(func(c testsink.Call) testsink.Verdict {
		if c.Tries < 2 {
			return testsink.Verdict{Code: codes.Unavailable}
		}
		return testsink.Verdict{Code: codes.OK}
	})
	cc := dial(t, s)
	r := testsink.NewRequest(testsink.SignalMetrics, "tries", 4)
	for i, want := range []codes.Code{codes.Unavailable, codes.Unavailable, codes.OK} {
		if code := export(t, cc, r); code != want {
			t.Fatalf("try %d: %v, want %v", i, code, want)
		}
	}
	if got := s.Tries(r.Keys[0]); got != 3 {
		t.Errorf("Tries = %d, want 3", got)
	}
	s.SetDecide(testsink.Answer(codes.PermissionDenied))
	if code := export(t, cc, r); code != codes.PermissionDenied {
		t.Errorf("Answer(PermissionDenied): %v", code)
	}
	s.RequireExactly(t, r.Keys)
}

func TestWaitsAreBoundedAndSayWhat(t *testing.T) {
	s := testsink.New(t)
	r := testsink.NewRequest(testsink.SignalLogs, "wait", 4)
	err := s.WaitKeys(r.Keys, 20*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "4 missing") {
		t.Errorf("WaitKeys on an empty sink: %v, want a timeout naming 4 missing keys", err)
	}
	if err := s.WaitItems(1, 20*time.Millisecond); err == nil || !strings.Contains(err.Error(), "1 distinct items") {
		t.Errorf("WaitItems on an empty sink: %v", err)
	}

	// A waiter is woken by the call that satisfies it.
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() { errs <- s.WaitItems(4, wait) })
	wg.Go(func() { errs <- s.WaitKeys(r.Keys, wait) })
	if code := export(t, dial(t, s), r); code != codes.OK {
		t.Fatal(code)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
}

func TestConcurrentCallersAreAllCounted(t *testing.T) {
	s := testsink.New(t)
	cc := dial(t, s)
	const callers, each = 8, 20
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				r := testsink.NewRequest(testsink.SignalLogs, fmt.Sprintf("c%d.%d", c, i), 4)
				if code := status.Code(r.Export(t.Context(), cc)); code != codes.OK {
					t.Errorf("caller %d request %d: %v", c, i, code)
				}
			}
		})
	}
	wg.Wait()
	if st := s.Stats(); st.Calls != callers*each || st.Items != callers*each*4 || st.Duplicates != 0 || st.InFlight != 0 {
		t.Errorf("stats = %v, want %d calls of 4 distinct items", st, callers*each)
	}
}

func TestRequestKeysAreUniqueToTheTag(t *testing.T) {
	seen := map[string]string{}
	for _, sig := range []string{testsink.SignalLogs, testsink.SignalMetrics, testsink.SignalTraces} {
		for _, tag := range []string{"a", "b"} {
			r := testsink.NewRequest(sig, tag, 16)
			if again := testsink.NewRequest(sig, tag, 16); !slices.Equal(again.Keys, r.Keys) {
				t.Errorf("%s/%s: keys differ between two builds", sig, tag)
			}
			for _, k := range r.Keys {
				if prev, dup := seen[k]; dup {
					t.Fatalf("%s/%s: key %q also in %s", sig, tag, k, prev)
				}
				seen[k] = sig + "/" + tag
			}
			if len(r.Proto()) == 0 || len(r.JSON()) == 0 {
				t.Errorf("%s/%s: empty encoding", sig, tag)
			}
		}
	}
}

// postProto posts r to an OTLP/HTTP base URL and returns the status.
func postProto(base string, r testsink.Request) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/"+r.Signal, bytes.NewReader(r.Proto()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func TestHTTPFrontSharesVerdictsAndRecords(t *testing.T) {
	s := testsink.New(t)
	base := s.StartHTTP(t)
	post := func(r testsink.Request) int {
		t.Helper()
		code, err := postProto(base, r)
		must(t, err)
		return code
	}
	var want []string
	for _, sig := range []string{testsink.SignalLogs, testsink.SignalMetrics, testsink.SignalTraces} {
		r := testsink.NewRequest(sig, "http."+sig, 6)
		want = append(want, r.Keys...)
		if code := post(r); code != http.StatusOK {
			t.Errorf("%s: HTTP %d, want 200", sig, code)
		}
	}
	for _, row := range []struct {
		mode testsink.Mode
		want int
	}{{testsink.Transient, http.StatusServiceUnavailable}, {testsink.Permanent, http.StatusBadRequest}} {
		s.SetMode(row.mode)
		if code := post(testsink.NewRequest(testsink.SignalLogs, "http."+row.mode.String(), 4)); code != row.want {
			t.Errorf("mode %s: HTTP %d, want %d", row.mode, code, row.want)
		}
	}
	s.RequireExactly(t, want)
	if st := s.Stats(); st.Calls != 5 || st.OKCalls != 3 || st.FailedCalls != 2 {
		t.Errorf("stats = %v, want 5 calls, 3 ok, 2 failed", st)
	}
}

// The end of the test ends a call hanging on the HTTP front: the cleanup
// does not wait for a Release, and the caller gets an answer (an error).
func TestHTTPFrontEndsHangingCallsAtCleanup(t *testing.T) {
	type answer struct {
		code int
		err  error
	}
	answered := make(chan answer, 1)
	t.Run("hang", func(t *testing.T) {
		s := testsink.New(t)
		base := s.StartHTTP(t)
		s.SetMode(testsink.Hang)
		go func() {
			code, err := postProto(base, testsink.NewRequest(testsink.SignalLogs, "http.hang", 4))
			answered <- answer{code, err}
		}()
		must(t, s.WaitUntil("the hanging HTTP call", wait, func(st testsink.Stats) bool { return st.InFlight == 1 }))
	})
	select {
	case a := <-answered:
		if a.err == nil && a.code == http.StatusOK {
			t.Errorf("a call hanging at cleanup was accepted")
		}
	case <-time.After(wait):
		t.Fatalf("a call hanging at cleanup had no answer after %s", wait)
	}
}
