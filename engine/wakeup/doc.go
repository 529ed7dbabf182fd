// Package wakeup holds a processor's node-local timers: keyed wakeups
// (Scheduler) and delayed resumes of data (Resumes); docs/ENGINE.md,
// "Wakeups and delayed resume", states the contract.
//
// Processors used to get "call me later" by sending themselves dummy data.
// Instead, a processor asks its node for a wakeup on a Slot, a key that it
// chooses and that means something only to it (for example "flush logs" or
// "retry the earliest deferred bundle"). The node keeps one timer aimed at
// the earliest deadline of both queues and delivers what is due as control
// messages; nothing polls.
//
// # Wakeups
//
// At most one wakeup is live per slot. Setting a live slot again replaces
// its deadline in place and never fails for capacity. Every accepted Set
// gets a fresh Revision, so a processor that re-arms one slot can tell a
// stale delivery from the current one. Wakeups with equal deadlines are due
// in the order they were set; a slot that is set again moves behind the
// others with the same deadline. At shutdown, pending wakeups are dropped:
// they are signals, not work, and a processor flushes on its Shutdown
// message instead.
//
// # Delayed resumes
//
// Resumes holds data handed back to the processor later (RequeueLater).
// Unlike wakeups it carries payload, so it is never dropped: at shutdown
// every pending item becomes due at once, and a rejected Push leaves the
// item with the caller.
//
// # Data structure and cost
//
// Scheduler is a 4-ary min-heap (internal/heap) ordered by (deadline,
// revision), plus a hash table from Slot to entry; an entry holds its heap
// handle, so replace and Cancel reach their element without a search. A
// popped or cancelled slot keeps its entry in the table, marked not live,
// so that setting it again, which is what processors do, needs no insert;
// the table purges such entries when it fills up, before growing. Set,
// replace, Cancel and PopDue are O(log n) (amortized: the table's purges
// and growth); Next and Len are O(1). Entries are recycled through a free
// list, so in steady state no operation allocates. Resumes is the same heap
// ordered by (deadline, push order).
//
// # Concurrency
//
// Scheduler and Resumes are not safe for concurrent use: one node goroutine
// owns them, calls them from its processor's effect handler and its own
// loop, and so needs no lock. Only the metrics they update are read by
// other goroutines.
package wakeup
