package memlimit

import (
	"math"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// With no limit there is no pressure; with a limit below what the process
// holds there is, once the reading is renewed; and Set renews it at once.
func TestPressureFollowsTheLimit(t *testing.T) {
	prev := Set(math.MaxInt64)
	t.Cleanup(func() { Set(prev) })
	if r := Pressure(); r.Limit != 0 || r.High() {
		t.Fatalf("no limit: %+v, high %t", r, r.High())
	}

	live := make([]byte, 64<<20) // live data the reading must count
	for i := range live {
		live[i] = byte(i)
	}
	runtime.GC()
	Set(1 << 40)
	r := Pressure()
	if r.Limit != 1<<40 || r.High() || r.Used < 64<<20 {
		t.Fatalf("1 TiB limit with 64 MiB live: %+v, high %t", r, r.High())
	}
	// A limit the live data exceeds. (The collector runs often meanwhile;
	// the test keeps it short.)
	Set(32 << 20)
	r = Pressure()
	if r.Limit != 32<<20 || !r.High() {
		t.Fatalf("32 MiB limit with 64 MiB live: %+v, high %t", r, r.High())
	}
	Set(1 << 40)
	runtime.KeepAlive(live)
}

// A reading is reused within SampleInterval and renewed after it.
func TestReadingsAreCached(t *testing.T) {
	s := newSampler()
	t0 := time.Unix(1000, 0)
	first := s.reading(t0)
	s.used.Store(first.Used + 12345) // what a new reading would not say
	if r := s.reading(t0.Add(SampleInterval / 2)); r.Used != first.Used+12345 {
		t.Fatalf("reading within the interval was renewed: %+v", r)
	}
	if r := s.reading(t0.Add(SampleInterval)); r.Used == first.Used+12345 {
		t.Fatalf("reading after the interval was not renewed: %+v", r)
	}
}

func TestHighFraction(t *testing.T) {
	for _, tt := range []struct {
		r    Reading
		want bool
	}{
		{Reading{Used: 100, Limit: 0}, false},
		{Reading{Used: 80, Limit: 100}, false},
		{Reading{Used: 81, Limit: 100}, true},
	} {
		if got := tt.r.High(); got != tt.want {
			t.Errorf("%+v.High() = %t, want %t", tt.r, got, tt.want)
		}
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A high reading whose live heap dates from a collection long past forces
// a new one: after a burst, an idle process must not go on refusing work
// for data it no longer holds.
func TestStaleHighReadingForcesACollection(t *testing.T) {
	prev := Set(math.MaxInt64)
	t.Cleanup(func() { Set(prev) })
	live := make([]byte, 64<<20)
	for i := range live {
		live[i] = byte(i)
	}
	runtime.GC()
	Set(72 << 20) // 64 MiB live is above HighFraction of it
	s := newSampler()
	t0 := time.Now()
	if r := s.reading(t0); !r.High() {
		t.Fatalf("64 MiB live under a 72 MiB limit: %+v, not high", r)
	}
	runtime.KeepAlive(live)
	live = nil
	// Nothing allocates meanwhile, so nothing starts a collection.
	r := s.reading(t0.Add(RefreshInterval + SampleInterval))
	if r.High() {
		t.Fatalf("the 64 MiB are garbage, yet the reading after %s is still high: %+v", RefreshInterval, r)
	}
}

func TestUnmanagedMemoryIsTheMappedFilesResidentPages(t *testing.T) {
	status := []byte("Name:\tackflow\nVmRSS:\t   22000 kB\nRssAnon:\t    2400 kB\nRssFile:\t   19600 kB\nRssShmem:\t       8 kB\n")
	if got, want := unmanagedIn(status), int64(19608)<<10; got != want {
		t.Fatalf("unmanaged %d, want %d", got, want)
	}
	if got := unmanagedIn([]byte("VmRSS:\t 1 kB\nRssFile: garbage\n")); got != 0 {
		t.Fatalf("unmanaged %d from a status without readable RssFile, want 0", got)
	}
}

// SetProcess leaves the runtime what the binary's resident pages do not
// take (on Linux they are several MiB), and never less than half.
func TestSetProcessLeavesTheRuntimeTheRest(t *testing.T) {
	prev := Set(math.MaxInt64)
	defer Set(prev)
	const limit = 1 << 30
	rt := SetProcess(limit)
	if Limit() != rt || rt > limit || rt < limit/2 {
		t.Fatalf("runtime limit %d (Limit %d) for a process limit of %d", rt, Limit(), int64(limit))
	}
	if runtime.GOOS == "linux" && rt == limit {
		t.Fatal("no resident pages of the binary taken off the runtime's limit")
	}
	if got := SetProcess(2 << 20); got != 1<<20 {
		t.Fatalf("runtime limit %d for a process limit of 2 MiB, want half", got)
	}
}
