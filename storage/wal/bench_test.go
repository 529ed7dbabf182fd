package wal

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Run the recovery benchmark on 1 GiB (takes a few seconds to build):
//
//	go test ./storage/wal -run '^$' -bench Recover -wal.recoverbytes=1073741824
var recoverBytes = flag.Int64("wal.recoverbytes", 64<<20, "backlog size in bytes for BenchmarkRecover")

var benchSizes = []int{16 << 10, 240 << 10}

func benchData(size int) []byte {
	b := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// BenchmarkAppend measures AppendSync, one record per op, next to raw
// baselines on the same directory: write(2) alone (the page-cache
// ceiling, until the kernel throttles dirty pages to the disk's speed),
// write(2) with an fdatasync every 32 MiB and at the end (the disk's
// sequential write bandwidth, what `dd conv=fdatasync` measures: the
// yardstick of the fsync mode) and write(2)+fdatasync per record (what
// group commit avoids; the log syncs segments with fdatasync too).
// Compare MB/s within one size.
func BenchmarkAppend(b *testing.B) {
	for _, size := range benchSizes {
		data := benchData(size)
		prefix := fmt.Sprintf("size=%dKiB", size>>10)
		b.Run(prefix+"/raw=write", func(b *testing.B) { benchRaw(b, data, 0) })
		b.Run(prefix+"/raw=sequential", func(b *testing.B) { benchRaw(b, data, 32<<20) })
		b.Run(prefix+"/raw=write+fdatasync", func(b *testing.B) { benchRaw(b, data, len(data)) })
		for _, d := range []Durability{Fsync, Write} {
			for _, writers := range []int{1, 16} {
				b.Run(fmt.Sprintf("%s/wal=%s/writers=%d", prefix, d, writers), func(b *testing.B) {
					benchAppend(b, data, d, writers)
				})
			}
		}
	}
}

// benchRaw writes data per op and fdatasyncs every syncEvery bytes and at
// the end (0: never).
func benchRaw(b *testing.B, data []byte, syncEvery int) {
	f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	unsynced := 0
	for b.Loop() {
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
		if unsynced += len(data); syncEvery > 0 && unsynced >= syncEvery {
			if err := fdatasync(f); err != nil {
				b.Fatal(err)
			}
			unsynced = 0
		}
	}
	if syncEvery > 0 && unsynced > 0 {
		if err := fdatasync(f); err != nil {
			b.Fatal(err)
		}
	}
}

func benchAppend(b *testing.B, data []byte, d Durability, writers int) {
	l, err := Open(Options{Dir: b.TempDir(), Durability: d})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	if writers == 1 {
		for b.Loop() {
			if _, err := l.AppendSync(data); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		// RunParallel runs parallelism*GOMAXPROCS goroutines.
		b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.AppendSync(data); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.ReportMetric(float64(l.Stats().Fsyncs)/float64(b.N), "fsyncs/op")
}

// BenchmarkDrain measures the consumer side: Reader.Next then Done, with a
// Checkpoint per refill (timer stopped while refilling).
func BenchmarkDrain(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			data := benchData(size)
			l, err := Open(Options{Dir: b.TempDir(), Durability: Write})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			refill := func() {
				for range 1024 {
					if _, err := l.Append(data); err != nil {
						b.Fatal(err)
					}
				}
			}
			refill()
			r := l.NewReader()
			defer r.Close()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				seq, _, err := r.Next()
				if err == io.EOF {
					b.StopTimer()
					if err := l.Checkpoint(); err != nil {
						b.Fatal(err)
					}
					refill()
					b.StartTimer()
					seq, _, err = r.Next()
				}
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Done(seq); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecover measures Open on a backlog of -wal.recoverbytes of
// 16 KiB records (page cache warm: the backlog was just written), and
// Close. recovery-ms is Stats.RecoveryDuration.
func BenchmarkRecover(b *testing.B) {
	dir := b.TempDir()
	l, err := Open(Options{Dir: dir, Durability: Write})
	if err != nil {
		b.Fatal(err)
	}
	data := benchData(16 << 10)
	for n := int64(0); n < *recoverBytes; n += int64(len(data)) {
		if _, err := l.Append(data); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(*recoverBytes)
	b.ReportAllocs()
	var total time.Duration
	for b.Loop() {
		l, err := Open(Options{Dir: dir, Durability: Write})
		if err != nil {
			b.Fatal(err)
		}
		total += l.Stats().RecoveryDuration
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "recovery-ms/op")
}
