//go:build race

// Package israce reports whether the program was built with -race. The
// runtime uses it where the race detector's own costs or blind spots need
// care: children of a race-enabled program get GORACE=atexit_sleep_ms=0
// (the detector otherwise sleeps a second before every exit), and shared
// memory that other processes write is synchronised for the detector.
package israce

// Enabled reports a -race build.
const Enabled = true
