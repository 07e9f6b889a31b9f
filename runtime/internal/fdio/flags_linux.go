package fdio

import "syscall"

// recvFlags makes received descriptors close-on-exec as they arrive;
// sendFlags keeps a send to a closed peer from raising SIGPIPE.
const (
	recvFlags = syscall.MSG_CMSG_CLOEXEC
	sendFlags = syscall.MSG_NOSIGNAL
)
