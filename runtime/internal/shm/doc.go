// Package shm is the runtime's shared-memory layer: segments (anonymous,
// size-sealed memfds mapped MAP_SHARED) with their header and kind, the
// metadata that describes a segment to another process, futex waits and
// wakes on words inside them, named blocks held by flock, and
// the identities (pid and start time) by which the primitives tell a live
// holder or waiter from a dead one whose pid was reused.
// The cross-process primitives of package mp (Lock, Value, Array,
// SharedMemory, a Queue's counts...) are built on it: their algorithms and
// their public errors stay in package mp, the memory and the system calls
// live here.
//
// The platform differences are inside. On Linux the above. On macOS, the
// BSDs and Linux with the build tag mpgen_portable (segment_portable.go,
// futex_portable.go, blockdir_portable.go) a segment is an unlinked file
// mapped MAP_SHARED, which cannot be sealed, Wait polls the word (macOS
// has no futex between processes), named blocks are files in a directory
// of the user's own in TMPDIR, and start times come from sysctl. On Windows
// (segment_windows.go, futex_windows.go, block_windows.go,
// procid_windows.go) a segment is an anonymous pagefile-backed file
// mapping whose handle travels, Wait and Wake are an event count over
// named events (Windows has no futex between processes), a named block is
// a file mapping named in the session's namespace, which the kernel frees
// with its last holder, and a process's start time is its creation time.
// Elsewhere the constructors return an error wrapping
// errors.ErrUnsupported.
//
// It imports only the standard library, golang.org/x/sys (on Windows),
// runtime/internal/israce and runtime/internal/wire; it never imports
// package mp (github.com/mpgen/mpgen/runtime) nor mpimpl.
package shm
