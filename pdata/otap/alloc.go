package otap

import (
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// budgetAllocator is the allocator a Decoder's Arrow readers use, and the
// account of what the decoder allocates itself (tryCharge). It counts
// what one Decode call allocates (decompressed buffers, dictionary
// batches copied and their contiguous copies' growth, what arrow-go's
// reader allocates) and refuses past the budget: tryCharge with an error,
// Allocate by panicking with one, which Decode recovers; both wrap
// ErrTooLarge.
//
// Nothing is ever given back: records handed to the pipeline are never
// released (the GC owns their memory), so an in-use count such as the
// library's LimitedAllocator keeps would only grow. Free is a no-op
// (as the Go allocator's is), which also makes it harmless from any
// goroutine: a writer on an encoder's goroutine may drop the last
// reference to a dictionary it retained.
type budgetAllocator struct {
	base memory.Allocator

	budget   atomic.Int64 // bytes the current Decode may allocate
	used     atomic.Int64 // bytes it has allocated so far
	exceeded atomic.Bool  // the budget was hit: whatever error follows is ErrTooLarge
}

var _ memory.Allocator = (*budgetAllocator)(nil)

func newBudgetAllocator() *budgetAllocator {
	return &budgetAllocator{base: memory.NewGoAllocator()}
}

// reset starts counting a new Decode call against budget bytes.
func (a *budgetAllocator) reset(budget int64) {
	a.budget.Store(budget)
	a.used.Store(0)
	a.exceeded.Store(false)
}

// Allocate implements memory.Allocator.
func (a *budgetAllocator) Allocate(size int) []byte {
	a.charge(size)
	return a.base.Allocate(size)
}

// Reallocate implements memory.Allocator; only growth beyond b's capacity
// is new memory.
func (a *budgetAllocator) Reallocate(size int, b []byte) []byte {
	if size > cap(b) {
		a.charge(size - cap(b))
	}
	return a.base.Reallocate(size, b)
}

// Free implements memory.Allocator: the GC reclaims the memory.
func (a *budgetAllocator) Free(b []byte) { a.base.Free(b) }

// fits reports whether n more bytes fit the current call's budget.
func (a *budgetAllocator) fits(n int64) bool {
	return n >= 0 && a.used.Load()+n <= a.budget.Load()
}

// tryCharge counts n bytes that the decoder itself is about to allocate,
// or fails with an error wrapping ErrTooLarge, before they are allocated,
// if they do not fit.
func (a *budgetAllocator) tryCharge(n int64) error {
	if !a.fits(n) {
		a.exceeded.Store(true)
		return fmt.Errorf("%w: decoding the batch needs more than %d bytes (asked for %d more)",
			ErrTooLarge, a.budget.Load(), n)
	}
	a.used.Add(n)
	return nil
}

// charge counts size bytes and panics before they are allocated if they
// take the call over its budget, so that a declared length (a hostile IPC
// body or zstd buffer size) is refused without being allocated.
func (a *budgetAllocator) charge(size int) {
	if size < 0 { // a corrupt length: arrow would panic on it anyway
		panic(fmt.Errorf("%w: negative buffer size %d", ErrInvalid, size))
	}
	if a.used.Add(int64(size)) > a.budget.Load() {
		a.exceeded.Store(true)
		panic(fmt.Errorf("%w: decoding the batch needs more than %d bytes (asked for %d more)",
			ErrTooLarge, a.budget.Load(), size))
	}
}
