//go:build unix && (!linux || mpgen_portable)

package fdio

// Without MSG_CMSG_CLOEXEC (macOS has none), received descriptors are made
// close-on-exec under syscall.ForkLock right after they arrive (recvmsg);
// without MSG_NOSIGNAL, the SIGPIPE of a send to a closed peer is ignored
// by Go's runtime (it is not on descriptor 1 or 2) and the send fails with
// EPIPE. The portable build selects this file on Linux too, so that its
// tests run macOS's way.
const (
	recvFlags = 0
	sendFlags = 0
)
