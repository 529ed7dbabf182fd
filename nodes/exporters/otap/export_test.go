package otap

// SetHook makes e report "dequeued" (a lane took a batch from its queue),
// "queue_full" (an export waits for queue room) and "late" (a status came
// after its export ended) to f. Set it before
// the first export.
func SetHook(e *Exporter, f func(event string)) { e.t.hook = f }
