package kafka

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// burst gathers the records of the messages that reach the exporter
// together, so that they travel in one produce request instead of one
// each (the client flushes by hand: kgo.ManualFlushing). It implements
// exportdriver.Gatherer: the driver calls begin for each export before its
// goroutine starts and idle when the node has nothing more ready; each
// export calls handed once its records are buffered (or it gave up before
// producing). Records are flushed once the node went idle and every export
// begun before has handed its records: never later than the end of the
// burst, and never waiting for more.
//
// One flusher goroutine calls Flush, which also sends whatever is produced
// while it runs and returns once nothing is buffered: under steady load it
// keeps running and records go out as they come. A flush wanted while one
// runs is remembered (want has room for one), so a record produced just
// as the running flush saw the buffer empty is sent by the next.
type burst struct {
	mu       sync.Mutex
	open     int  // exports begun whose records are not buffered yet
	idle     bool // the node went idle since the last flush was asked for
	flushing bool // the flusher is inside Flush: records produced now go out at once

	want chan struct{} // a flush is wanted
	stop context.CancelFunc
	done chan struct{} // closed when the flusher returned
}

// start runs the flusher of cl. stop ends it and waits for it; the client
// must be closed after, so that records buffered unflushed are failed.
func (b *burst) start(cl *kgo.Client) {
	if b == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = func() { cancel(); <-b.done }
	go func() {
		defer close(b.done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-b.want:
				b.setFlushing(true)
				_ = cl.Flush(ctx) // only fails when ctx ends; records report their own outcomes
				b.setFlushing(false)
			}
		}
	}()
}

func newBurst() *burst {
	return &burst{want: make(chan struct{}, 1), done: make(chan struct{})}
}

// begin counts an export about to hand its records. A nil burst (the
// client lingers instead: linger_ms) gathers nothing.
func (b *burst) begin() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.open++
	b.mu.Unlock()
}

// idleNow notes that the node has nothing more ready.
func (b *burst) idleNow() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.idle = true
	b.maybeFlush()
	b.mu.Unlock()
}

// handed is called by an export once its records are buffered.
func (b *burst) handed() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.open--
	b.maybeFlush()
	b.mu.Unlock()
}

func (b *burst) setFlushing(on bool) {
	b.mu.Lock()
	b.flushing = on
	b.mu.Unlock()
}

// quiet reports whether no flush runs or is wanted, so that the records
// produced next wait for the end of their burst. Flush returns only after
// the last record's outcome was reported, so a burst that starts right
// after the exports before it were answered may find it still running.
func (b *burst) quiet() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.flushing && len(b.want) == 0
}

// maybeFlush asks for a flush once the burst is over. b.mu is held.
func (b *burst) maybeFlush() {
	if !b.idle || b.open > 0 {
		return
	}
	b.idle = false
	select {
	case b.want <- struct{}{}:
	default: // one is already wanted: it will cover these records
	}
}
