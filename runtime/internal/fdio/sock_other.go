//go:build !unix && !windows

package fdio

import (
	"context"
	"os"
	"sync/atomic"
	"time"
)

// Off Unix and Windows there are no message sockets: Pipe and NewQueue fail with
// ErrUnsupported.

const recvBufSize = MaxMsg

type Sock struct {
	f      *os.File
	closed atomic.Bool
}

func SeqpacketPair() (a, b *Sock, err error) { return nil, nil, ErrUnsupported }

func NewSock(f *os.File) *Sock { return &Sock{f: f} }

func (s *Sock) Send(ctx context.Context, msg []byte, files []*os.File) error {
	return ErrUnsupported
}

func (s *Sock) TrySend(msg []byte, files []*os.File) (bool, error) { return false, ErrUnsupported }

func (s *Sock) Recv(ctx context.Context) (*[]byte, int, []*os.File, error) {
	return nil, 0, nil, ErrUnsupported
}

func (s *Sock) TryRecv() (*[]byte, int, []*os.File, bool, error) {
	return nil, 0, nil, false, ErrUnsupported
}

func (s *Sock) ShutdownSend() error { return ErrUnsupported }

func (s *Sock) Readable(ctx context.Context, timeout time.Duration) (bool, error) {
	return false, ErrUnsupported
}

func (s *Sock) Close() error {
	s.closed.Store(true)
	return s.f.Close()
}
