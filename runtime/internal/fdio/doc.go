// Package fdio is the descriptor transport of the runtime: connected
// message sockets that carry values and descriptors between processes,
// descriptors sent beside the bytes of a control channel, duplication
// that children do not inherit, the anonymous files large values are
// spilled into, and waiting on many message sockets at once.
//
// Platform differences live here, behind one API. On Unix a Sock is a
// SOCK_SEQPACKET socketpair and descriptors travel with SCM_RIGHTS. On
// Windows a Sock is a message-mode named pipe (sock_windows.go), and
// handles travel by their receiver duplicating them out of their sender
// (win_windows.go): in a prefix of each Sock message, and on a control
// channel in a rights frame before the frame they belong to
// (rights_windows.go), which a child writing to its parent replaces by
// putting the handles straight into the parent. A handle in a Sock
// message whose sender exits before it is received is lost there
// (ErrHandleLost); an in-flight Unix descriptor is not. Elsewhere the
// calls that would move a descriptor fail with ErrUnsupported.
//
// fdio imports only the standard library, golang.org/x/sys and
// runtime/internal/wire (for the frame header the Windows Reader looks
// for); it never imports package mp (github.com/mpgen/mpgen/runtime),
// mpimpl or the registry. Package mp and runtime/internal/proc build on
// it.
package fdio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
)

// ErrUnsupported says what is missing off Unix and Windows: message
// sockets and descriptors that travel between processes, so Pipe, Queue
// and the handles passed to children.
var ErrUnsupported = fmt.Errorf("pipes, queues and handles that travel between processes are not supported on this platform yet: %w", errors.ErrUnsupported)

// MaxFiles bounds the descriptors one frame or message may carry
// (Linux's SCM_MAX_FD is 253).
const MaxFiles = 64

// MaxMsg is the size of the buffer a message is received into, and so the
// largest message a Sock delivers whole: a longer one fails to arrive.
const MaxMsg = 64<<10 + 64

var recvBufs = &sync.Pool{New: func() any { b := make([]byte, recvBufSize); return &b }}

// PutBuf returns a buffer that Sock.Recv or Sock.TryRecv handed out, once
// the message in it has been used.
func PutBuf(buf *[]byte) { recvBufs.Put(buf) }

// TakeTurn waits for the turn that ch (a channel of capacity one) stands
// for, or until ctx is done: it returns nil once the caller holds the turn
// (it gives it back with <-ch), else ctx.Err(). A free turn is taken even
// when ctx is already done.
func TakeTurn(ctx context.Context, ch chan struct{}) error {
	select {
	case ch <- struct{}{}:
		return nil
	default:
	}
	select {
	case ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeFiles closes files, ignoring errors: they are descriptors nobody
// will use any more.
func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}
