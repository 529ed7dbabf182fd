//go:build !race

package durablebuffer_test

const raceEnabled = false
