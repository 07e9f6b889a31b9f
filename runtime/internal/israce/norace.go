//go:build !race

package israce

// Enabled reports a -race build.
const Enabled = false
