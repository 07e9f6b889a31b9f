// Package shm is the runtime's shared-memory layer: segments (anonymous,
// size-sealed memfds mapped MAP_SHARED) with their header and kind, the
// metadata that describes a segment to another process, futex waits and
// wakes on words inside them, named blocks in /dev/shm held by flock, and
// the identities (pid and start time) by which the primitives tell a live
// holder or waiter from a dead one whose pid was reused.
// The cross-process primitives of package mp (Lock, Value, Array,
// SharedMemory, a Queue's counts...) are built on it: their algorithms and
// their public errors stay in package mp, the memory and the system calls
// live here.
//
// The platform differences are inside: on Linux the real thing; elsewhere
// the constructors return an error wrapping errors.ErrUnsupported, and Wait
// polls.
//
// It imports only the standard library and runtime/internal/israce; it
// never imports package mp (github.com/mpgen/mpgen/runtime) nor mpimpl.
package shm
