//go:build race

package gen

// raceEnabled: under the race detector the generator runs about ten times
// slower, so the hostile tests use smaller "huge" packages.
const raceEnabled = true
