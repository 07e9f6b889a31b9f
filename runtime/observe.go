package mp

import (
	"os"
	"strings"

	"github.com/mpgen/mpgen/runtime/internal/proc"
)

// OutputPrefix says whether the lines a child writes to its stdout and
// stderr are labelled with its name and pid, as docker compose labels the
// output of its services:
//
//	Process-1[12345] | a line the child wrote
//
// Labelled lines are written whole, each with one Write, under a lock that
// all the labelled outputs of this process share, so the lines of many
// children never split or interleave, whatever writer they share. A line
// longer than 64 KiB is cut into pieces, and each piece after the first is
// labelled "Process-1[12345] + ", marking it as a continuation; a last
// line without a newline gets one when the child ends.
type OutputPrefix int

// The output prefixes.
const (
	// PrefixDefault leaves the choice to the environment variable
	// MPGEN_PREFIX: "1" (or "lines") is PrefixLines, "json" is
	// PrefixLinesKeepJSON, and anything else, or no variable, is
	// PrefixOff. It lets a program's output be labelled without a change
	// to its code.
	PrefixDefault OutputPrefix = iota
	// PrefixOff passes the output through as written.
	PrefixOff
	// PrefixLines labels every line.
	PrefixLines
	// PrefixLinesKeepJSON labels every line except those that start with
	// '{', which pass untouched: JSON log lines carry their own
	// attribution (a child's default slog logger adds mp.process and
	// mp.pid), and a log collector must still parse them.
	PrefixLinesKeepJSON
)

// envPrefix is the variable PrefixDefault defers to.
const envPrefix = "MPGEN_PREFIX"

// prefixFromEnv is the prefix MPGEN_PREFIX asks for, read at every start
// (a program may set it after it began).
func prefixFromEnv() OutputPrefix {
	switch strings.ToLower(os.Getenv(envPrefix)) {
	case "1", "lines", "true", "on":
		return PrefixLines
	case "json":
		return PrefixLinesKeepJSON
	}
	return PrefixOff
}

// mode is the proc package's mode of the prefix p.
func (p OutputPrefix) mode() proc.PrefixMode {
	if p == PrefixDefault {
		p = prefixFromEnv()
	}
	switch p {
	case PrefixLines:
		return proc.PrefixLines
	case PrefixLinesKeepJSON:
		return proc.PrefixKeepJSON
	}
	return proc.PrefixNone
}

// PoolOutputPrefix labels the lines the workers write to their stdout and
// stderr with the worker's name and pid (see OutputPrefix); by default
// MPGEN_PREFIX decides.
func PoolOutputPrefix(p OutputPrefix) PoolOption {
	return func(c *poolConfig) { c.prefix = p; c.mark("PoolOutputPrefix") }
}
