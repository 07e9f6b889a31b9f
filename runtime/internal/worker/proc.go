package worker

import (
	"bufio"
	"encoding/binary"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/proc"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Proc is the local Conn: a child process of this program (proc.Spawn)
// and the parent's end of its control socketpair.
type Proc struct {
	cmd      *exec.Cmd
	conn     *os.File
	outs     *proc.Outputs
	rd       *fdio.Reader // the descriptors of kept frames arrive beside them
	br       *bufio.Reader
	maxFrame func() int64

	killed atomic.Bool // Kill was called: a SIGKILL is ours, not the OOM killer's
	waited sync.Once
	code   int
	signal string
}

// NewProc returns the Conn of the started child cmd, whose control channel
// is conn and whose output outs copies. maxFrame returns the largest frame
// Recv accepts, read at every frame.
func NewProc(cmd *exec.Cmd, conn *os.File, outs *proc.Outputs, maxFrame func() int64) *Proc {
	rd := fdio.NewReader(conn)
	return &Proc{
		cmd:      cmd,
		conn:     conn,
		outs:     outs,
		rd:       rd,
		br:       bufio.NewReaderSize(rd, 64<<10), // a header and a small body in one read
		maxFrame: maxFrame,
	}
}

// smallFrames is how many bytes of small frames Send gathers into one
// write.
const smallFrames = 256 << 10

// Send writes fs in order. Small frames without descriptors travel
// together in one write (a tiny call costs one system call however many
// go at once); a large body's big pieces are written from where they lie,
// and a frame with descriptors carries them with its first byte.
func (c *Proc) Send(fs ...Frame) error {
	var buf []byte
	for _, f := range fs {
		if n := f.Body.Size(); n < wire.BigPiece && len(buf)+n < smallFrames && len(f.Files) == 0 {
			buf = binary.BigEndian.AppendUint32(buf, uint32(1+8+n))
			buf = append(buf, byte(f.Kind))
			buf = binary.BigEndian.AppendUint64(buf, f.ID)
			for _, b := range f.Body {
				buf = append(buf, b...)
			}
			continue
		}
		if len(buf) > 0 {
			if _, err := c.conn.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		if err := wire.WriteFrames(fdio.NewRightsWriter(c.conn, f.Files), nil, f.Kind, f.ID, f.Body); err != nil {
			return err
		}
	}
	if len(buf) > 0 {
		_, err := c.conn.Write(buf)
		return err
	}
	return nil
}

// Recv reads the next frame the child sent.
func (c *Proc) Recv() (wire.Frame, error) { return wire.ReadPeerFrame(c.br, c.maxFrame()) }

// TakeFiles takes n descriptors that arrived beside the frames read.
func (c *Proc) TakeFiles(n int) ([]*os.File, error) { return c.rd.Take(n) }

// Buffered reports whether a whole frame waits in the read buffer.
func (c *Proc) Buffered() bool {
	n := c.br.Buffered()
	if n < wire.HeaderLen {
		return false
	}
	hdr, _ := c.br.Peek(4)
	return n >= 4+int(binary.BigEndian.Uint32(hdr))
}

// CloseWrite shuts down the parent's sending side of the channel: the
// child reads the end of its calls and exits once it has answered them.
func (c *Proc) CloseWrite() { proc.ShutdownWrite(c.conn) }

// Kill kills the child (proc.Kill: SIGKILL, or TerminateProcess on
// Windows).
func (c *Proc) Kill() {
	c.killed.Store(true)
	_ = proc.Kill(c.cmd.Process)
}

// Wait reaps the child, closes the channel and waits (at most
// proc.OutputWait) for the child's output to be copied.
func (c *Proc) Wait() (code int, signal string) {
	c.waited.Do(func() {
		_ = c.cmd.Wait()
		c.conn.Close()
		c.outs.Wait(proc.OutputWait)
		c.code, c.signal = proc.ExitStatus(c.cmd.ProcessState)
	})
	return c.code, c.signal
}

// Death waits as Wait does and describes how the child ended: its exit
// status, peak memory, whether the OOM killer killed it, and the tail of
// its stderr (proc.Outputs.Death).
func (c *Proc) Death() proc.Death {
	c.Wait()
	return c.outs.Death(c.cmd.ProcessState, c.killed.Load())
}

// Pid is the child's process id.
func (c *Proc) Pid() int { return c.cmd.Process.Pid }

// RSS reads the child's resident memory (Linux; elsewhere ok is false).
func (c *Proc) RSS() (int64, bool) { return proc.RSS(c.cmd.Process.Pid) }

var _ Conn = (*Proc)(nil)
