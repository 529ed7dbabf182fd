//go:build race

package durablebuffer_test

// raceEnabled shrinks the long tests: the race detector makes them ~10× slower.
const raceEnabled = true
