//go:build !mpgen_portable

package fdio

import "syscall"

// recvFlags makes received descriptors close-on-exec as they arrive;
// sendFlags keeps a send to a closed peer from raising SIGPIPE. The
// portable build (tag mpgen_portable) does without both, as macOS does:
// flags_bsd.go.
const (
	recvFlags = syscall.MSG_CMSG_CLOEXEC
	sendFlags = syscall.MSG_NOSIGNAL
)
