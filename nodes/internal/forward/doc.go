// Package forward sends a message on for the processors that keep no
// state about what they forward (filter, log_sampling): what they send
// keeps its return route, so its ack or nack travels straight back to
// whoever asked. A message the engine refuses to take is nacked upstream
// at once, with the cause of the refusal, so that its sender is never left
// waiting.
//
// Send is the whole protocol; NackCause is its classification of send
// errors, for processors that answer a refused send themselves.
package forward
