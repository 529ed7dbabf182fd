package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"
)

// Report is the outcome of a run's measured phase. Its JSON form is what the
// benchmark runner reads; field names are stable.
type Report struct {
	Endpoint    string      `json:"endpoint"`
	Protocol    Protocol    `json:"protocol"`
	Signal      Signal      `json:"signal"`
	Compression Compression `json:"compression"`
	// ArrowCompression is OTAP's payload compression (empty for OTLP).
	ArrowCompression Compression `json:"arrow_compression,omitempty"`
	// OTAPRing is the number of batches each OTAP stream pre-encoded (0:
	// encoded as sent).
	OTAPRing int `json:"otap_ring,omitempty"`
	Workers  int `json:"workers"`
	// TargetRate is the requested rate in requests/s; 0 = unlimited.
	TargetRate float64 `json:"target_rate"`
	// ItemsPerRequest is the number of items in each request.
	ItemsPerRequest int `json:"items_per_request"`
	// RequestBytes is the mean uncompressed request size.
	RequestBytes int `json:"request_bytes"`
	// BatchBytes is the mean protobuf size of the OTAP batches answered
	// OK (before gRPC compression); 0 for OTLP.
	BatchBytes float64 `json:"batch_bytes,omitempty"`
	// DurationSeconds runs from the first request to the last answer.
	DurationSeconds float64 `json:"duration_seconds"`
	// Requests counts every request sent: OK plus Errors.
	Requests int64 `json:"requests"`
	// OK counts the requests answered with success.
	OK int64 `json:"ok"`
	// Errors counts the other requests; ErrorsByStatus splits them.
	Errors         int64            `json:"errors"`
	ErrorsByStatus map[string]int64 `json:"errors_by_status"`
	// Items counts the items of successful requests (delivered items),
	// RejectedItems those a partial success refused among them.
	Items         int64 `json:"items"`
	RejectedItems int64 `json:"rejected_items"`
	// RequestsPerSecond and ItemsPerSecond divide OK and Items by the
	// duration.
	RequestsPerSecond float64 `json:"requests_per_second"`
	ItemsPerSecond    float64 `json:"items_per_second"`
	// Latency is over successful requests, in seconds.
	Latency Latency `json:"latency_seconds"`
}

// Latency holds latency percentiles in seconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// describe fills the fields that come from the configuration.
func (r *Report) describe(cfg Config, pool *Pool) {
	r.Endpoint = cfg.Endpoint
	r.Protocol = cfg.Protocol
	r.Signal = cfg.Signal
	r.Compression = cfg.Compression
	if cfg.Protocol == OTAP {
		r.ArrowCompression = cfg.ArrowCompression
		r.OTAPRing = cfg.OTAPRing
		if r.ArrowCompression == "" {
			r.ArrowCompression = NoCompression
		}
	}
	r.Workers = cfg.Workers
	r.TargetRate = cfg.Rate
	r.ItemsPerRequest = pool.Items
	r.RequestBytes = pool.RequestBytes()
}

// WriteJSON writes r as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("loadgen: write JSON report: %w", err)
	}
	return nil
}

// WriteText writes r for a person.
func (r *Report) WriteText(w io.Writer) error {
	rate := "as fast as possible"
	if r.TargetRate > 0 {
		rate = fmt.Sprintf("%g requests/s", r.TargetRate)
	}
	var b strings.Builder
	comp := string(r.Compression)
	if r.ArrowCompression != "" {
		comp += ", Arrow buffers " + string(r.ArrowCompression)
	}
	fmt.Fprintf(&b, "loadgen: %s %s to %s, %d workers, %s, %d items/request (%d B as OTLP, compression %s)\n",
		r.Protocol, r.Signal, r.Endpoint, r.Workers, rate, r.ItemsPerRequest, r.RequestBytes, comp)
	fmt.Fprintf(&b, "duration   %.2f s\n", r.DurationSeconds)
	fmt.Fprintf(&b, "requests   %d sent, %d ok, %d errors; %.1f ok/s\n", r.Requests, r.OK, r.Errors, r.RequestsPerSecond)
	if r.BatchBytes > 0 {
		fmt.Fprintf(&b, "batches    %.0f B each on average (OTAP, before gRPC compression; %.1f B per item)\n",
			r.BatchBytes, r.BatchBytes/float64(max(r.ItemsPerRequest, 1)))
	}
	fmt.Fprintf(&b, "items      %d delivered (%.0f/s)", r.Items, r.ItemsPerSecond)
	if r.RejectedItems > 0 {
		fmt.Fprintf(&b, ", %d rejected by partial success", r.RejectedItems)
	}
	b.WriteString("\n")
	if len(r.ErrorsByStatus) > 0 {
		b.WriteString("errors    ")
		for _, k := range slices.Sorted(maps.Keys(r.ErrorsByStatus)) {
			fmt.Fprintf(&b, " %s=%d", k, r.ErrorsByStatus[k])
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "latency    p50 %s  p90 %s  p99 %s  max %s  mean %s\n",
		ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max), ms(r.Latency.Mean))
	_, err := io.WriteString(w, b.String())
	return err
}

func ms(sec float64) string { return fmt.Sprintf("%.3f ms", sec*1e3) }

// stats accumulates the results of a phase. Workers share it under a
// mutex: a request costs far more than the lock.
type stats struct {
	mu       sync.Mutex
	requests int64
	ok       int64
	items    int64
	rejected int64
	bytes    int64 // of OK requests whose transport reported a size
	errors   map[string]int64
	hist     histogram
}

func newStats() *stats { return &stats{errors: make(map[string]int64)} }

func (s *stats) record(r result, lat time.Duration, items int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.status != "" {
		s.errors[r.status]++
		return
	}
	s.ok++
	s.items += int64(items)
	s.rejected += r.rejected
	s.bytes += r.bytes
	s.hist.record(lat)
}

func (s *stats) report(elapsed time.Duration) *Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := elapsed.Seconds()
	r := &Report{
		DurationSeconds: sec,
		Requests:        s.requests,
		OK:              s.ok,
		Errors:          s.requests - s.ok,
		ErrorsByStatus:  maps.Clone(s.errors),
		Items:           s.items,
		RejectedItems:   s.rejected,
		Latency: Latency{
			P50:  s.hist.quantile(0.50).Seconds(),
			P90:  s.hist.quantile(0.90).Seconds(),
			P99:  s.hist.quantile(0.99).Seconds(),
			Max:  s.hist.max.Seconds(),
			Mean: s.hist.mean().Seconds(),
		},
	}
	if s.bytes > 0 {
		r.BatchBytes = float64(s.bytes) / float64(s.ok)
	}
	if sec > 0 {
		r.RequestsPerSecond = float64(s.ok) / sec
		r.ItemsPerSecond = float64(s.items) / sec
	}
	return r
}

// Histogram layout: values below subBuckets nanoseconds have a bucket
// each; above, every power of two is split into subBuckets equal buckets,
// so a bucket's width is under 1/subBuckets of its values (1.6 %).
// Latencies are capped at 2^maxExp ns (about 18 minutes).
const (
	subBits    = 6
	subBuckets = 1 << subBits
	maxExp     = 40
	numBuckets = (maxExp-subBits+1)*subBuckets + subBuckets
)

// histogram is a log-linear latency histogram. The zero value is empty.
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    time.Duration
	max    time.Duration
}

func bucketOf(v uint64) int {
	if v >= 1<<maxExp {
		v = 1<<maxExp - 1
	}
	if v < subBuckets {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [subBuckets, 2*subBuckets)
	return (e+1)*subBuckets + int(v>>e) - subBuckets
}

// bucketMid returns the middle of bucket i's range.
func bucketMid(i int) time.Duration {
	if i < subBuckets {
		return time.Duration(i)
	}
	e := i/subBuckets - 1
	lo := uint64(i%subBuckets+subBuckets) << e
	return time.Duration(lo + (uint64(1)<<e)/2)
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// quantile returns the q-quantile (0 < q ≤ 1), never above the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketMid(i), h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}
