//go:build !mpgen_portable

package fdio

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// MaxInline is the longest message a Sock carries in the socket itself:
// on SOCK_SEQPACKET, every message up to MaxMsg.
const MaxInline = MaxMsg

// SeqpacketPair makes a connected pair of message sockets: a SOCK_SEQPACKET
// socketpair, whose every send the kernel delivers whole to one receiver.
func SeqpacketPair() (a, b *Sock, err error) {
	fds, err := Socketpair(syscall.SOCK_SEQPACKET)
	if err != nil {
		return nil, nil, fmt.Errorf("mp: %w", err)
	}
	for _, fd := range fds {
		if err := syscall.SetNonblock(fd, true); err != nil {
			syscall.Close(fds[0])
			syscall.Close(fds[1])
			return nil, nil, fmt.Errorf("mp: socketpair: %w", err)
		}
	}
	return NewSock(os.NewFile(uintptr(fds[0]), "mpgen-msg")), NewSock(os.NewFile(uintptr(fds[1]), "mpgen-msg")), nil
}

func (s *Sock) sendNow(msg []byte, files []*os.File, wait bool) error {
	oob, err := rightsOOB(files)
	if err != nil {
		return err
	}
	rc, err := s.rawConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = syscall.Sendmsg(int(fd), msg, oob, nil, sendFlags)
		return !wait || serr != syscall.EAGAIN
	})
	if err == nil {
		err = serr
	}
	return err
}

func (s *Sock) recvNow(wait bool) (*[]byte, int, []*os.File, error) {
	rc, err := s.rawConn()
	if err != nil {
		return nil, 0, nil, err
	}
	buf := recvBufs.Get().(*[]byte)
	oob := s.oob
	var n, oobn, flags int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, flags, rerr = recvmsg(int(fd), *buf, oob, 0)
		return !wait || rerr != syscall.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	var files []*os.File
	if oobn > 0 {
		files, _ = takeRights(oob[:oobn])
	}
	if err == nil && flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0 {
		err = errCutShort
	}
	if err == nil && n == 0 {
		err = io.EOF
	}
	if err != nil {
		recvBufs.Put(buf)
		closeFiles(files)
		return nil, 0, nil, err
	}
	return buf, n, files, nil
}
