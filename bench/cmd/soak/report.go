package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ackflow/ackflow/internal/testsink"
)

// pipeCheck is the conservation check of one pipeline.
type pipeCheck struct {
	sent, ok, failed int
	codes            map[string]int // failed requests by answer
	okItems          int            // items of requests answered OK
	lost             int            // of those, at no sink
	dupItems         int            // of those, accepted more than once (across the pipeline's sinks)
	dupDeliveries    int            // acceptances beyond the first
	failedArrived    int            // requests answered with an error of which some item arrived anyway
	lostExample      string
}

// check is the conservation check.
type check struct {
	pipes         [2]pipeCheck
	hostileKeyed  int // hostile requests with item keys
	hostileAtSink int // their items found at a sink
	sinkStats     [3]testsink.Stats
}

// conservation compares what the clients were answered with what the
// sinks accepted. It runs after the last process exited.
func (s *soak) conservation() *check {
	c := &check{}
	counts := [3]map[string]int{}
	for i, k := range s.sinks {
		counts[i] = k.s.Counts()
		c.sinkStats[i] = k.s.Stats()
	}
	at := func(pipe int, key string) int {
		if pipe == pFanout {
			return counts[0][key] + counts[1][key]
		}
		return counts[2][key]
	}
	s.traffic.mu.Lock()
	results := slices.Clone(s.traffic.results)
	s.traffic.mu.Unlock()
	for i := range c.pipes {
		c.pipes[i].codes = map[string]int{}
	}
	for _, r := range results {
		p := &c.pipes[r.pipe]
		p.sent++
		keys := r.request().Keys
		if r.code != "" {
			p.failed++
			p.codes[r.code]++
			for _, k := range keys {
				if at(int(r.pipe), k) > 0 {
					p.failedArrived++
					break
				}
			}
			continue
		}
		p.ok++
		p.okItems += len(keys)
		for _, k := range keys {
			switch n := at(int(r.pipe), k); {
			case n == 0:
				p.lost++
				if p.lostExample == "" {
					p.lostExample = k
				}
			case n > 1:
				p.dupItems++
				p.dupDeliveries += n - 1
			}
		}
	}
	s.hostile.mu.Lock()
	keyed := slices.Clone(s.hostile.keyed)
	s.hostile.mu.Unlock()
	c.hostileKeyed = len(keyed)
	for _, r := range keyed {
		for _, k := range r.Keys {
			if counts[0][k]+counts[1][k]+counts[2][k] > 0 {
				c.hostileAtSink++
			}
		}
	}
	for i, p := range c.pipes {
		if p.lost > 0 {
			s.fail("%s: %d of %d items answered OK are at no sink, e.g. %s", pipelineNames[i], p.lost, p.okItems, p.lostExample)
		}
	}
	if c.hostileAtSink > 0 {
		s.fail("%d items of refused hostile requests reached a sink", c.hostileAtSink)
	}
	return c
}

// report is everything the soak prints at the end.
type report struct {
	s           *soak
	check       *check
	interrupted bool
	elapsed     time.Duration
}

func (s *soak) report(c *check, interrupted bool) *report {
	ht := s.hostile.totals()
	if ht.accepted > 0 {
		s.fail("%d hostile requests were answered OK", ht.accepted)
	}
	if ht.hung > 0 {
		s.fail("%d hostile requests got no answer within %s while the process was up (not refused with an error)", ht.hung, hostileWait)
	}
	if c == nil {
		s.fail("no conservation check: the soak could not run")
	}
	return &report{s: s, check: c, interrupted: interrupted, elapsed: time.Since(s.start)}
}

func (r *report) failures() []string {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return slices.Clone(r.s.failures)
}

func (r *report) print(w io.Writer) {
	s := r.s
	fmt.Fprintf(w, "\n==== ackflow soak report ====\n")
	fmt.Fprintf(w, "seed %d, load %s (wall %s%s), %d clients × %.0f req/s\n", s.opt.seed, s.opt.duration,
		r.elapsed.Round(time.Second), map[bool]string{true: ", INTERRUPTED early", false: ""}[r.interrupted], s.opt.clients, s.opt.rate)
	fmt.Fprintf(w, "pipelines: soak/fanout = otlp → fanout (await_ack primary, primary timeout 2s, backup fallback) → 2 × otlp_grpc → sinks primary, backup\n")
	fmt.Fprintf(w, "           soak/durable = otlp → durable_buffer (fsync) → otlp_grpc → sink durable\n")
	fmt.Fprintf(w, "clients: %s\n", joinSpecs(clientSpecs(s.opt.clients)))

	if c := r.check; c != nil {
		fmt.Fprintf(w, "\ntraffic and conservation (items of requests answered OK must all be at a sink):\n")
		fmt.Fprintf(w, "  %-13s %8s %8s %8s %10s %6s %11s %14s\n", "pipeline", "sent", "OK", "errors", "OK items", "lost", "dup items", "dup deliveries")
		tot := pipeCheck{}
		for i, p := range c.pipes {
			fmt.Fprintf(w, "  %-13s %8d %8d %8d %10d %6d %11d %14d\n", pipelineNames[i], p.sent, p.ok, p.failed, p.okItems, p.lost, p.dupItems, p.dupDeliveries)
			tot.sent += p.sent
			tot.ok += p.ok
			tot.failed += p.failed
			tot.okItems += p.okItems
			tot.lost += p.lost
			tot.dupItems += p.dupItems
			tot.dupDeliveries += p.dupDeliveries
		}
		fmt.Fprintf(w, "  %-13s %8d %8d %8d %10d %6d %11d %14d\n", "total", tot.sent, tot.ok, tot.failed, tot.okItems, tot.lost, tot.dupItems, tot.dupDeliveries)
		s.traffic.mu.Lock()
		messages := s.traffic.messages
		s.traffic.mu.Unlock()
		for i, p := range c.pipes {
			fmt.Fprintf(w, "  errors by code, %s: %s\n", pipelineNames[i], countList(p.codes))
			for _, code := range slices.Sorted(maps.Keys(messages[i])) {
				msgs := topCounts(messages[i][code], 3, "%[2]d× %[1]s")
				for j, m := range msgs {
					head := "      "
					if j == 0 {
						head = "    " + code + ":"
					}
					fmt.Fprintf(w, "%s %s\n", head, m)
				}
			}
			if p.failedArrived > 0 {
				fmt.Fprintf(w, "    %d requests answered with an error arrived anyway, at least in part (at least once: the client would retry)\n", p.failedArrived)
			}
		}
		fmt.Fprintf(w, "  items lost: %d\n", tot.lost)
		for i, st := range c.sinkStats {
			fmt.Fprintf(w, "  sink %-8s %s\n", s.sinks[i].name+":", st)
		}
		fmt.Fprintf(w, "  hostile requests with item keys: %d; their items at a sink: %d\n", c.hostileKeyed, c.hostileAtSink)
	}
	s.traffic.mu.Lock()
	gaps := s.traffic.maxGap
	disturbed := [2]int{}
	for i, byCode := range s.traffic.messages {
		for _, msgs := range byCode {
			for m, n := range msgs {
				if strings.Contains(m, "max_in_flight_bytes") || strings.Contains(m, "too many concurrent requests") {
					disturbed[i] += n
				}
			}
		}
	}
	s.traffic.mu.Unlock()
	fmt.Fprintf(w, "  normal requests refused for receiver resources (max_in_flight_bytes, max_concurrent_requests), which only hostile requests can exhaust at this load: fanout %d, durable %d\n",
		disturbed[pFanout], disturbed[pDurable])
	fmt.Fprintf(w, "  longest time between two OKs within one process life: fanout %s, durable %s (sink faults stall the fanout pipeline, not the durable one)\n",
		gaps[pFanout].Round(10*time.Millisecond), gaps[pDurable].Round(10*time.Millisecond))

	ht := s.hostile.totals()
	fmt.Fprintf(w, "\nhostile clients: %d runs, %d requests: refused with an error %d, accepted %d, unanswered within %s %d, cut short by a restart %d; idle connections held %d\n",
		ht.runs, ht.requests, ht.refused, ht.accepted, hostileWait, ht.hung, ht.restarted, ht.conns)
	s.hostile.mu.Lock()
	for _, name := range slices.Sorted(maps.Keys(s.hostile.kinds)) {
		k := s.hostile.kinds[name]
		line := fmt.Sprintf("  %-50s %3d runs", name, k.runs)
		if k.requests > 0 {
			line += fmt.Sprintf(", %d requests: %d refused (%s)", k.requests, k.refused, countList(k.answers))
		}
		if k.accepted > 0 {
			line += fmt.Sprintf(", %d ACCEPTED", k.accepted)
		}
		if k.hung > 0 {
			line += fmt.Sprintf(", %d UNANSWERED", k.hung)
		}
		if k.restarted > 0 {
			line += fmt.Sprintf(", %d cut by a restart", k.restarted)
		}
		if k.conns > 0 {
			line += fmt.Sprintf(", %d connections", k.conns)
		}
		fmt.Fprintln(w, line)
	}
	s.hostile.mu.Unlock()

	fmt.Fprintf(w, "\nsink faults:\n")
	for _, k := range s.sinks {
		counts, total := k.faultCounts()
		fmt.Fprintf(w, "  %-8s %d (%s)\n", k.name, total, countList(counts))
	}

	s.mu.Lock()
	lives := slices.Clone(s.lives)
	peakHWM, peakLife, peakRSS := s.peakHWM, s.peakLife, s.peakRSS
	s.mu.Unlock()
	terms, kills := 0, 0
	fmt.Fprintf(w, "\nprocess lives:\n")
	for _, e := range lives {
		verdict := "as expected"
		if !e.ok {
			verdict = "WRONG"
		}
		extra := ""
		switch e.how {
		case restartTerm:
			terms++
		case restartKill:
			kills++
			extra = fmt.Sprintf(", fanout idle %t, durable: %d requests in flight, %d items queued", e.p1Idle, e.p2Busy, e.queued)
		}
		fmt.Fprintf(w, "  life %d: up %s, ended by %s: %s (%s), peak RSS %.1f MiB%s\n", e.n, e.uptime.Round(100*time.Millisecond), e.how, e.exit, verdict, mib(e.hwm), extra)
		if e.how != restartKill {
			for _, name := range pipelineNames {
				if f, ok := e.flows[name]; ok {
					fmt.Fprintf(w, "      %s: %s\n", name, f)
				}
			}
			if e.kept > 0 {
				fmt.Fprintf(w, "      durable buffer kept %d items on disk for the next life\n", e.kept)
			}
		}
	}
	fmt.Fprintf(w, "restarts: %d (SIGTERM %d, SIGKILL %d)\n", terms+kills, terms, kills)
	fmt.Fprintf(w, "peak RSS of ackflow: VmHWM %.1f MiB (life %d); largest VmRSS sampled %.1f MiB\n", mib(peakHWM), peakLife, mib(peakRSS))

	fails := r.failures()
	if n := disturbed[0] + disturbed[1]; n > 0 {
		fmt.Fprintf(w, "\nWARN: hostile clients disturbed normal clients: %d normal requests were refused (retryable) while hostile requests held the receiver's resources (not counted as a failure)\n", n)
	}
	if len(fails) == 0 {
		fmt.Fprintf(w, "\nPASS: nothing lost, every exit code as expected, every hostile request refused with an error\n")
		return
	}
	fmt.Fprintf(w, "\nFAIL: %d problem(s):\n", len(fails))
	for _, f := range fails {
		fmt.Fprintf(w, "  - %s\n", strings.ReplaceAll(f, "\n", "\n    "))
	}
}

func joinSpecs(cs []clientSpec) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.String())
	}
	return strings.Join(parts, ", ")
}

// countList prints a count map, largest first.
func countList(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(topCounts(m, len(m), "%[1]s %[2]d"), ", ")
}

// topCounts formats the n largest entries of m with format (%[1]s the key,
// %[2]d the count), largest first, and says how many more there are.
func topCounts(m map[string]int, n int, format string) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf(format, k, m[k]))
	}
	if len(keys) > n {
		parts = append(parts, fmt.Sprintf("(%d more)", len(keys)-n))
	}
	return parts
}
