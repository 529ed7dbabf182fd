// Package memlimit is the process's memory limit (engine.memory_limit, or
// the GOMEMLIMIT environment variable): the Go runtime's soft limit, which
// makes the garbage collector work harder as the process nears it, and a
// pressure reading that receivers check to refuse new requests before the
// heap outgrows it.
//
// The runtime's limit alone keeps garbage from piling up, but not live
// data: requests admitted faster than a destination takes them would make
// the collector run without end (a death spiral) and the process grow past
// the limit anyway. Refusing at the door, with a retryable answer, keeps
// the live heap under it.
package memlimit

import (
	"bytes"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// HighFraction is the share of the limit above which Reading.High holds:
// the rest is headroom for the requests already admitted and the
// collector's work.
const HighFraction = 0.8

// SampleInterval is how old a reading Pressure may return: reading the
// runtime's metrics costs microseconds, too much for every request.
const SampleInterval = 10 * time.Millisecond

// Set sets the process's memory limit to limit bytes (the runtime's soft
// limit, as GOMEMLIMIT does) and returns the previous one (math.MaxInt64:
// none). A limit of math.MaxInt64 removes it.
func Set(limit int64) int64 {
	prev := debug.SetMemoryLimit(limit)
	sampler.invalidate()
	return prev
}

// Limit returns the process's memory limit, 0 if there is none.
func Limit() int64 {
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		return l
	}
	return 0
}

// Reading is a sample of the process's memory.
type Reading struct {
	// Used is what the process holds that the limit counts, with the heap
	// counted as what was live at the last garbage collection (garbage is
	// the collector's business, not a reason to refuse work).
	Used int64
	// Limit is the memory limit, 0 if there is none.
	Limit int64
}

// High reports whether Used is above HighFraction of the limit: time to
// refuse new work.
func (r Reading) High() bool {
	return r.Limit > 0 && float64(r.Used) > HighFraction*float64(r.Limit)
}

// RefreshInterval is the least time between two collections a reading
// forces (see Pressure).
const RefreshInterval = 100 * time.Millisecond

// Pressure returns a reading at most SampleInterval old. It is safe for
// concurrent use and does not block, but for one case: callers that find
// the reading stale while another one is taking a new one get the stale
// one.
//
// The case is a high reading with no collection seen for RefreshInterval.
// The live heap it counts is what was live at the last collection, which
// may be long ago: after a burst, an idle process would go on refusing
// work for data it no longer holds, as nothing allocates to start the next
// collection. The caller taking such a reading forces a collection and
// reads again. Under real pressure the runtime collects often on its own,
// so this costs nothing there.
func Pressure() Reading { return sampler.reading(time.Now()) }

var sampler = newSampler()

// samplerState caches the last reading.
type samplerState struct {
	taken       atomic.Int64 // UnixNano of the reading; 0: none
	used, limit atomic.Int64

	// Held while a reading is taken.
	mu        sync.Mutex
	samples   []metrics.Sample
	cycles    uint64    // completed collections at the last reading
	cycleSeen time.Time // when a reading last saw that number change
}

// The runtime metrics a reading is computed from (see read).
var sampleNames = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
	"/gc/cycles/total:gc-cycles",
}

func newSampler() *samplerState {
	s := &samplerState{samples: make([]metrics.Sample, len(sampleNames))}
	for i, n := range sampleNames {
		s.samples[i].Name = n
	}
	return s
}

func (s *samplerState) invalidate() { s.taken.Store(0) }

func (s *samplerState) reading(now time.Time) Reading {
	taken := s.taken.Load()
	if taken == 0 || now.UnixNano()-taken >= int64(SampleInterval) {
		if s.mu.TryLock() {
			s.used.Store(s.refresh(now))
			s.limit.Store(Limit())
			s.taken.Store(max(now.UnixNano(), 1))
			s.mu.Unlock()
		} else if taken == 0 {
			s.mu.Lock() // the first reading: wait for it
			s.mu.Unlock()
		}
	}
	return Reading{Used: s.used.Load(), Limit: s.limit.Load()}
}

// refresh returns the memory the limit counts, forcing a collection first
// when the heap live it would count is stale (see Pressure). Called with
// mu held.
func (s *samplerState) refresh(now time.Time) int64 {
	used, cycles := s.read()
	if cycles != s.cycles {
		s.cycles, s.cycleSeen = cycles, now
	}
	if now.Sub(s.cycleSeen) >= RefreshInterval && (Reading{Used: used, Limit: Limit()}).High() {
		runtime.GC()
		used, s.cycles = s.read()
		s.cycleSeen = now
	}
	return used
}

// read returns the memory the limit counts (all the runtime's mapped
// memory less what it returned to the system), with the heap's objects,
// free and unused spans replaced by the heap live at the last collection.
func (s *samplerState) read() (used int64, cycles uint64) {
	metrics.Read(s.samples)
	v := func(i int) int64 {
		if s.samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(s.samples[i].Value.Uint64())
	}
	live, total, objects, unused, free, released := v(0), v(1), v(2), v(3), v(4), v(5)
	return max(total-objects-unused-free-released, 0) + live, uint64(v(6))
}

// SetProcess sets a limit on the whole process's resident memory, as
// engine.memory_limit means it (and as a container's limit counts it):
// the runtime's limit is limit less the resident memory the runtime does
// not manage, measured now: the binary's pages and other mapped files
// (RssFile and RssShmem of /proc/self/status; nothing where there is no
// /proc). It never goes below half of limit. It returns the runtime's
// limit.
func SetProcess(limit int64) int64 {
	rt := max(limit-unmanaged(), limit/2)
	Set(rt)
	return rt
}

// unmanaged returns the process's resident memory that the runtime does
// not manage, 0 if unknown.
func unmanaged() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return unmanagedIn(status)
}

// unmanagedIn sums the RssFile and RssShmem lines (in kB) of a
// /proc/<pid>/status text.
func unmanagedIn(status []byte) int64 {
	var total int64
	for line := range bytes.Lines(status) {
		for _, key := range [...]string{"RssFile:", "RssShmem:"} {
			rest, ok := bytes.CutPrefix(line, []byte(key))
			if !ok {
				continue
			}
			fields := bytes.Fields(rest)
			if len(fields) == 2 && string(fields[1]) == "kB" {
				if kb, err := strconv.ParseInt(string(fields[0]), 10, 64); err == nil {
					total += kb << 10
				}
			}
		}
	}
	return total
}
