// Package clock is the only source of time for the ackflow engine.
//
// Engine code never calls time.Now or time.NewTimer directly: it receives a
// Clock, so that production runs on the wall clock (Real) and tests step a
// Fake explicitly instead of sleeping. A test that advances a Fake by five
// seconds sees exactly the timers that were due in those five seconds fire,
// in deadline order, and nothing else.
//
// # Timers
//
// Timer follows the Go 1.23 semantics of time.Timer for both
// implementations: after Reset or Stop returns, no value from the earlier
// arming is received, so callers never need the old "Stop and drain" dance.
// A node keeps one Timer and re-aims it with Reset at its earliest deadline.
//
// # Fake
//
// Fake is safe for concurrent use. Tests that drive a goroutine which arms
// its own timer use WaitTimers to learn that the goroutine is parked on the
// timer before calling Advance; nothing polls or sleeps.
package clock
