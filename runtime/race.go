//go:build race

package mp

// raceEnabled reports a -race build. The race detector sleeps a second
// before every exit by default; children started by a race-enabled program
// get GORACE=atexit_sleep_ms=0 unless GORACE is set, so that -race test
// suites that start many children stay fast.
const raceEnabled = true
