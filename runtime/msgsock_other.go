//go:build !unix

package mp

import (
	"context"
	"os"
	"sync/atomic"
	"time"
)

// Off Unix there are no message sockets yet: Pipe and NewQueue fail with
// errUnsupported.

type msgSock struct {
	f      *os.File
	closed atomic.Bool
}

func seqpacketPair() (a, b *msgSock, err error) { return nil, nil, errUnsupported }

func newMsgSock(f *os.File) *msgSock { return &msgSock{f: f} }

const recvBuf = inlineMax + 64

var recvBufs = newRecvBufs()

func (s *msgSock) send(ctx context.Context, msg []byte, files []*os.File) error {
	return errUnsupported
}

func (s *msgSock) trySend(msg []byte, files []*os.File) (bool, error) { return false, errUnsupported }

func (s *msgSock) recv(ctx context.Context) (*[]byte, int, []*os.File, error) {
	return nil, 0, nil, errUnsupported
}

func (s *msgSock) tryRecv() (*[]byte, int, []*os.File, bool, error) {
	return nil, 0, nil, false, errUnsupported
}

func (s *msgSock) shutdownSend() error { return errUnsupported }

func (s *msgSock) readable(ctx context.Context, timeout time.Duration) (bool, error) {
	return false, errUnsupported
}

func (s *msgSock) close() error {
	s.closed.Store(true)
	return s.f.Close()
}
