//go:build !unix

package kafka_test

import "time"

// cpuTime is not measured here: the benchmarks report no items/cpu-s.
func cpuTime() (time.Duration, bool) { return 0, false }
