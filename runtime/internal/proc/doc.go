// Package proc is the runtime's platform process control: it starts the
// program's own binary as a child with a control socket on descriptor
// ControlFD and its output plumbed to any writer (Spawn; on Linux the
// kernel kills the child when this process ends), its stderr always
// through a pipe whose copier keeps the tail and its lines labelled on
// request (Outputs, Labeled), tells how it died (Outputs.Death), opens that socket
// in the child (ControlConn), names the child after its parent
// (TakeParentName), keeps stray inherited descriptors out of
// children (InheritableFDs, CloseInherited), and observes and stops
// processes (Terminate, Kill, ExitStatus, OnTerminate, DieOfTerminate, RSS),
// and holds a child for a debugger (WaitForDebugger).
//
// It knows nothing of what travels on the socket: the environment marker,
// the handshake and the calls belong to package mp. Platform differences
// live here, behind one API; off Unix and Windows, Spawn fails with
// fdio.ErrUnsupported. The build tag mpgen_portable makes Linux run what
// macOS and the BSDs run: no parent-death signal, no /proc/self/exe, no
// RSS. proc imports runtime/internal/fdio (for the socketpair, and on
// Windows to name a child's transit host) and
// runtime/internal/israce; it never imports package mp
// (github.com/mpgen/mpgen/runtime), mpimpl or the registry.
package proc

// ControlFD is the descriptor of the control channel in a child started
// by Spawn (exec.Cmd.ExtraFiles[0]).
const ControlFD = 3
