// Package notargets has no targets and is not main: it gets no file, and a
// stale one of mpgen's is ignored while loading.
package notargets

// Work is not a target.
func Work() {}
