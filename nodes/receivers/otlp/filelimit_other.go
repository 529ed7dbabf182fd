//go:build !(linux || darwin)

package otlp

// fileLimit reports no limit where RLIMIT_NOFILE is not read: only
// max_connections caps connections.
func fileLimit() (uint64, bool) { return 0, false }
