package wakeup

import "github.com/ackflow/ackflow/telemetry"

// Metrics are the counters and gauges of one Scheduler. Labels (pipeline,
// node) identify the scheduler, so every Scheduler gets its own Metrics.
type Metrics struct {
	Inserted          *telemetry.Counter // {wakeup} accepted Sets of a slot that was not live
	Replaced          *telemetry.Counter // {wakeup} accepted Sets that moved a live slot's deadline
	CapacityErrors    *telemetry.Counter // {wakeup} Sets rejected with ErrCapacity
	ShutdownErrors    *telemetry.Counter // {wakeup} Sets rejected with ErrShuttingDown
	CancelRemoved     *telemetry.Counter // {wakeup} Cancels that removed a live wakeup
	CancelMissed      *telemetry.Counter // {wakeup} Cancels of a slot that was not live
	CancelIgnored     *telemetry.Counter // {wakeup} Cancels ignored after shutdown was latched
	PoppedDue         *telemetry.Counter // {wakeup} wakeups handed out by PopDue
	ClearedAtShutdown *telemetry.Counter // {wakeup} pending wakeups dropped by BeginShutdown
	Live              *telemetry.Gauge   // {wakeup} live wakeups now
	Capacity          *telemetry.Gauge   // {wakeup} live wakeups allowed
}

// NewMetrics registers the scheduler metric families in r with the given
// labels. A nil r returns working, unregistered metrics.
func NewMetrics(r *telemetry.Registry, labels ...telemetry.Label) *Metrics {
	c := func(name, help string) *telemetry.Counter {
		return r.Counter("ackflow_wakeup_"+name, help, labels...)
	}
	g := func(name, help string) *telemetry.Gauge {
		return r.Gauge("ackflow_wakeup_"+name, help, labels...)
	}
	return &Metrics{
		Inserted:          c("inserted_total", "Wakeups set on a slot that was not live."),
		Replaced:          c("replaced_total", "Wakeups set on a live slot, replacing its deadline."),
		CapacityErrors:    c("capacity_errors_total", "Wakeups rejected because every declared live slot was in use."),
		ShutdownErrors:    c("shutdown_errors_total", "Wakeups rejected because the node was shutting down."),
		CancelRemoved:     c("cancel_removed_total", "Cancels that removed a live wakeup."),
		CancelMissed:      c("cancel_missed_total", "Cancels of a slot that had no live wakeup."),
		CancelIgnored:     c("cancel_ignored_total", "Cancels ignored because the node was shutting down."),
		PoppedDue:         c("popped_due_total", "Wakeups delivered to the processor when due."),
		ClearedAtShutdown: c("cleared_at_shutdown_total", "Pending wakeups dropped when shutdown began."),
		Live:              g("live", "Wakeups currently scheduled."),
		Capacity:          g("capacity", "Live wakeup slots the processor declared."),
	}
}

// ResumeMetrics are the counters and gauge of one Resumes queue.
type ResumeMetrics struct {
	Scheduled *telemetry.Counter // {item} items accepted by Push
	Rejected  *telemetry.Counter // {item} items refused by Push (capacity or shutdown)
	Delivered *telemetry.Counter // {item} items handed out by PopDue
	Pending   *telemetry.Gauge   // {item} items waiting for their deadline
}

// NewResumeMetrics registers the delayed resume metric families in r with
// the given labels. A nil r returns working, unregistered metrics.
func NewResumeMetrics(r *telemetry.Registry, labels ...telemetry.Label) *ResumeMetrics {
	return &ResumeMetrics{
		Scheduled: r.Counter("ackflow_resume_scheduled_total", "Data handed back to be resumed later.", labels...),
		Rejected:  r.Counter("ackflow_resume_rejected_total", "Delayed resumes refused (capacity or shutdown); the caller kept the data.", labels...),
		Delivered: r.Counter("ackflow_resume_delivered_total", "Delayed resumes delivered back to the processor.", labels...),
		Pending:   r.Gauge("ackflow_resume_pending", "Delayed resumes waiting for their deadline.", labels...),
	}
}
