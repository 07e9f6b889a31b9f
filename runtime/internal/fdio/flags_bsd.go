//go:build unix && !linux

package fdio

// Without MSG_CMSG_CLOEXEC, received descriptors are made close-on-exec
// right after they arrive (adoptFD); Go's runtime already turns SIGPIPE on
// a socket into EPIPE.
const (
	recvFlags = 0
	sendFlags = 0
)
