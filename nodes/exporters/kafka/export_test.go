package kafka

// Quiet reports whether the exporter's client is not flushing and no flush
// is wanted: the records produced next wait for the end of their burst. It
// is true when the client lingers instead (linger_ms). Tests that count
// produce requests wait for it between bursts.
func (e *Exporter) Quiet() bool {
	return e.transport.burst == nil || e.transport.burst.quiet()
}
