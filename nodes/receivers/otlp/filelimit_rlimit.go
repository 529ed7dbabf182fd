//go:build linux || darwin

package otlp

import "syscall"

// fileLimit returns the process's soft limit on open files, after raising
// it to the hard limit. The Go runtime already raises it at start-up (to
// the hard limit minus one, since Go 1.19), so this only acts when
// something lowered it since; the returned value is what the connection
// caps are computed from (processConns).
func fileLimit() (uint64, bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, false
	}
	if lim.Cur+1 < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			lim = raised
		}
	}
	return lim.Cur, lim.Cur > 0 && lim.Cur != ^uint64(0) // not unlimited
}
