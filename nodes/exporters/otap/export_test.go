package otap

// SetHook makes e report "dequeued" (a lane took a batch from its queue)
// and "queue_full" (an export waits for queue room) to f. Set it before
// the first export.
func SetHook(e *Exporter, f func(event string)) { e.t.hook = f }
