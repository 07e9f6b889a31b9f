//go:build unix && (!linux || mpgen_portable)

package fdio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The portable message transport: what macOS and the BSDs run, and Linux
// with the build tag mpgen_portable, so that CI on Linux runs this very
// code. macOS has no AF_UNIX SOCK_SEQPACKET (socketpair fails with
// EPROTONOSUPPORT), so a Sock is one end of a SOCK_STREAM socketpair that
// carries every message as one record of exactly recordSize bytes: a
// header, the message, zeros to the end. A message longer than MaxInline
// rides beside its record in a socket of its own that holds it all (or, if
// that fails, a spill file: spillMsg).
//
// Each record is moved by one system call at each side, which is what
// keeps the semantics of SOCK_SEQPACKET without any lock:
//
//   - A non-blocking send of a record moves all of it or nothing. On
//     macOS and the BSDs, setsockopt(2) documents it for a send no longer
//     than the send low-water mark, which SeqpacketPair raises to a record
//     and its descriptors (SO_SNDLOWAT; their sosend counts the control
//     message against the room too). On Linux a stream send of up to
//     about 36 KiB is one buffer (skb), queued whole or not at all, and
//     Linux does not let the mark be set. So records never interleave,
//     however many processes send on an end, and a sender that dies
//     leaves whole records only.
//   - The stream therefore holds whole records only, and a receive of
//     recordSize bytes takes exactly one: the kernel serializes receives on
//     a socket (Linux's iolock, the BSDs' sblock), so each record goes
//     whole to exactly one of the processes that share an end, and a
//     receiver that dies has lost at most the records it took. A record's
//     descriptors arrive with its bytes (a stream receive stops at a record
//     that carries descriptors, and ours start where a receive starts).
//   - A stream has an end: a receive returns 0 once every process that
//     held the other end has closed it, or one of them shut it down
//     (shutdown(SHUT_WR) acts on the socket, shared by all), and the
//     stream is drained. Poll and Readable see data or the end as before.
//
// The alternatives were worse. AF_UNIX SOCK_DGRAM keeps boundaries but on
// macOS a datagram is capped at net.local.dgram.maxdgram (2 KiB) unless
// SO_SNDBUF is raised, a send to a full receiver fails with ENOBUFS
// instead of blocking while poll calls the socket writable (so a sender
// could only sleep and retry), and there is no end of file. Length-
// prefixed variable frames need a lock around each whole read and write:
// flock locks belong to the open file description, which every process
// that received the descriptor shares, so they exclude nobody (and FreeBSD
// refuses flock on a socket); fcntl record locks belong to the
// process and are released when it dies, but also when it closes any
// descriptor of the lock file, which handing a queue to a child does, and
// they need a lock file that travels with every Sock. Fixed records cost
// padding instead: a short message moves recordSize bytes, and the
// socket's buffer holds fewer of them, which SeqpacketPair offsets by
// asking for sockBuffer bytes of it.
const (
	recordSize   = 4 << 10
	recordHeader = 8 // recordMagic, the record's kind, 2 zero bytes, the message's length (uint32, little-endian)
	recordMagic  = 0x6d

	recordInline = 0 // the message follows the header
	recordFile   = 1 // the message is in the record's last descriptor, a spill file
	recordSocket = 2 // the message is in the record's last descriptor, a socket that has it all

	// MaxInline is the longest message a record carries itself; a longer
	// one rides beside it (spillMsg).
	MaxInline = recordSize - recordHeader

	sockBuffer = 256 << 10
)

// sendLowat is the send low-water mark: room for a record and the most
// descriptors that travel with one.
var sendLowat = recordSize + syscall.CmsgSpace(4*(MaxFiles+1))

// zeros pads records.
var zeros [recordSize]byte

// SeqpacketPair makes a connected pair of message sockets: on this build a
// SOCK_STREAM socketpair that carries records (see above). The name is the
// Linux build's.
func SeqpacketPair() (a, b *Sock, err error) {
	fds, err := Socketpair(syscall.SOCK_STREAM)
	if err != nil {
		return nil, nil, fmt.Errorf("mp: %w", err)
	}
	for _, fd := range fds {
		if err := setupRecords(fd); err != nil {
			syscall.Close(fds[0])
			syscall.Close(fds[1])
			return nil, nil, fmt.Errorf("mp: socketpair: %w", err)
		}
	}
	return NewSock(os.NewFile(uintptr(fds[0]), "mpgen-msg")), NewSock(os.NewFile(uintptr(fds[1]), "mpgen-msg")), nil
}

// setupRecords makes fd non-blocking, with room for many records, and
// makes sure a send of one record moves all of it or nothing.
func setupRecords(fd int) error {
	if err := syscall.SetNonblock(fd, true); err != nil {
		return err
	}
	// A larger buffer only lets more records wait; the kernel may grant
	// less (Linux caps it at net.core.wmem_max), or refuse, and the default
	// (8 KiB on macOS) still holds a record.
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, sockBuffer)
	err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDLOWAT, sendLowat)
	if errors.Is(err, syscall.ENOPROTOOPT) {
		return nil // Linux: fixed at 1, and a record is one skb anyway
	}
	if err != nil {
		return fmt.Errorf("set SO_SNDLOWAT: %w", err)
	}
	// The kernel clamps the mark to the buffer's size: check that it took.
	lowat, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDLOWAT)
	if err != nil {
		return fmt.Errorf("get SO_SNDLOWAT: %w", err)
	}
	if lowat < sendLowat {
		return fmt.Errorf("the send low-water mark is %d bytes, under a %d-byte record and its descriptors: a send could move part of one", lowat, sendLowat)
	}
	return nil
}

func (s *Sock) sendNow(msg []byte, files []*os.File, wait bool) error {
	if uint64(len(msg)) > math.MaxUint32 {
		return fmt.Errorf("mp: a %d-byte message is too long to send", len(msg))
	}
	var hdr [recordHeader]byte
	hdr[0] = recordMagic
	binary.LittleEndian.PutUint32(hdr[4:], uint32(len(msg)))
	body := msg
	if len(msg) > MaxInline {
		f, kind, err := spillMsg(msg)
		if err != nil {
			return err
		}
		defer f.Close() // the receiver gets its own descriptor
		files = append(files[:len(files):len(files)], f)
		hdr[1] = kind
		body = nil
	}
	oob, err := rightsOOB(files)
	if err != nil {
		return err
	}
	rc, err := s.rawConn()
	if err != nil {
		return err
	}
	bufs := [][]byte{hdr[:], body, zeros[:MaxInline-len(body)]}
	var n int
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		n, serr = unix.SendmsgBuffers(int(fd), bufs, oob, nil, sendFlags)
		return !wait || serr != syscall.EAGAIN
	})
	if err == nil {
		err = serr
	}
	if err == nil && n != recordSize {
		// Not expected on any kernel this was written for (see above); the
		// receivers will see the stream out of step.
		return fmt.Errorf("mp: the kernel took %d bytes of a %d-byte record", n, recordSize)
	}
	return err
}

func (s *Sock) recvNow(wait bool) (*[]byte, int, []*os.File, error) {
	rc, err := s.rawConn()
	if err != nil {
		return nil, 0, nil, err
	}
	buf := recvBufs.Get().(*[]byte)
	var hdr [recordHeader]byte
	bufs := [][]byte{hdr[:], (*buf)[:MaxInline]}
	oob := s.oob
	var n, oobn, flags int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, flags, rerr = recvmsgBuffers(int(fd), bufs, oob, 0)
		return !wait || rerr != syscall.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	var files []*os.File
	if oobn > 0 {
		files, _ = takeRights(oob[:oobn])
	}
	size := 0
	if err == nil {
		size, files, err = readRecord(hdr, n, flags, files, *buf)
	}
	if err != nil {
		recvBufs.Put(buf)
		closeFiles(files)
		return nil, 0, nil, err
	}
	return buf, size, files, nil
}

// readRecord checks a received record of n bytes whose header is hdr and
// whose message follows in buf, reads a message that rode beside it into
// buf, and returns the message's length and its files (without the one it
// rode in).
func readRecord(hdr [recordHeader]byte, n, flags int, files []*os.File, buf []byte) (int, []*os.File, error) {
	switch {
	case n == 0:
		return 0, files, io.EOF
	case flags&syscall.MSG_CTRUNC != 0:
		return 0, files, errCutShort
	case n != recordSize || hdr[0] != recordMagic:
		return 0, files, fmt.Errorf("mp: the message stream is out of step: %d bytes of a record, header %x", n, hdr)
	}
	size := int64(binary.LittleEndian.Uint32(hdr[4:]))
	switch hdr[1] {
	case recordInline:
		if size > MaxInline {
			return 0, files, fmt.Errorf("mp: a record says it carries %d bytes", size)
		}
		return int(size), files, nil
	case recordFile, recordSocket:
		if len(files) == 0 {
			return 0, files, errors.New("mp: a spilled record came without its file")
		}
		spill := files[len(files)-1]
		files = files[:len(files)-1]
		defer spill.Close()
		if size > int64(len(buf)) {
			return 0, files, errCutShort
		}
		var err error
		if hdr[1] == recordFile {
			_, err = spill.ReadAt(buf[:size], 0)
		} else {
			_, err = io.ReadFull(spill, buf[:size])
		}
		if err != nil {
			return 0, files, fmt.Errorf("mp: read a spilled message: %w", err)
		}
		return int(size), files, nil
	}
	return 0, files, fmt.Errorf("mp: a record of unknown kind %d", hdr[1])
}

// spillMsg puts msg where the receiver of its record reads it: into a
// socketpair of its own, whose reading end travels beside the record and
// whose writing end is closed, or into a spill file if that socket cannot
// take msg at once (or msg is longer than MaxMsg, which no receiver takes).
// A socket costs less than a file: in the benchmarks on Linux (ext4) an
// 8 KiB message's round trip took 41 µs with it, 80 µs with a file.
func spillMsg(msg []byte) (*os.File, byte, error) {
	if len(msg) <= MaxMsg {
		fds, err := Socketpair(syscall.SOCK_STREAM)
		if err == nil {
			var n int
			_ = syscall.SetsockoptInt(fds[0], syscall.SOL_SOCKET, syscall.SO_SNDBUF, len(msg)+4<<10)
			if err = syscall.SetNonblock(fds[0], true); err == nil {
				n, err = syscall.Write(fds[0], msg)
			}
			syscall.Close(fds[0])
			if err == nil && n == len(msg) {
				return os.NewFile(uintptr(fds[1]), "mpgen-spill"), recordSocket, nil
			}
			syscall.Close(fds[1])
		}
	}
	f, err := Spill(msg)
	return f, recordFile, err
}
