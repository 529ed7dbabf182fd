package otlpwire

// ScanBuffersInPlace is ScanBuffers without its fallback to Scan: ok is
// false wherever the walk across buffers refused. Tests use it to check
// that valid requests never take the slow path.
func ScanBuffersInPlace(k Kind, bufs [][]byte) (Stats, bool) {
	c := bufCursor{bufs: bufs}
	for _, b := range bufs {
		c.size += len(b)
	}
	return c.request(k)
}
