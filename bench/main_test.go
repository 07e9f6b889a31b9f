package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	mp "github.com/mpgen/mpgen/runtime"
)

func TestMain(m *testing.M) {
	switch os.Getenv(floorEnv) {
	case "":
	case floorExit:
		os.Exit(0)
	case floorSocketpair:
		os.Exit(floorServe(os.NewFile(3, "floor-socketpair")))
	case floorLoop:
		os.Exit(floorServeLoop(os.NewFile(3, "floor-loop")))
	case floorSum:
		os.Exit(floorServeSum(os.NewFile(3, "floor-sum")))
	default:
		os.Exit(2)
	}
	mp.Guard()
	os.Exit(m.Run())
}

// floorServe is the socketpair floor child's whole life: read one message
// (an 8-byte big-endian length, then that many bytes) into a fresh buffer,
// as a child must, and answer with the payload itself when it is small or
// with its 8-byte length otherwise. It returns the exit code.
func floorServe(f *os.File) int {
	code, _ := floorEchoOne(f, f)
	return code
}

// floorEchoOne reads one message from r and answers it on w. It returns 0
// and nil after an answer, 0 and io.EOF at a clean end of input, or the
// exit code of a failure.
func floorEchoOne(r io.Reader, w io.Writer) (int, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return 0, err
		}
		return 3, err
	}
	n := binary.BigEndian.Uint64(hdr[:])
	if n > 1<<30 {
		return 3, errors.New("message too long")
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 3, err
	}
	reply := payload
	if n > floorEchoMax {
		reply = hdr[:]
	}
	if _, err := w.Write(reply); err != nil {
		return 4, err
	}
	return 0, nil
}

// floorServeSum is the life of a sum child, the floor of a queue consumer:
// on a SOCK_SEQPACKET socket, it reads one 8-byte big-endian integer per
// message, with a blocking read each; -1 ends a batch, answered with one
// 16-byte message holding the batch's count and sum. It returns the exit
// code at end of file.
func floorServeSum(f *os.File) int {
	var buf [64]byte
	var n, sum uint64
	for {
		k, err := f.Read(buf[:])
		if err == io.EOF {
			return 0
		}
		if err != nil || k != 8 {
			return 3
		}
		v := binary.BigEndian.Uint64(buf[:8])
		if v != ^uint64(0) {
			n, sum = n+1, sum+v
			continue
		}
		reply := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, n), sum)
		if _, err := f.Write(reply); err != nil {
			return 4
		}
		n, sum = 0, 0
	}
}

// floorServeLoop is the life of a loop child: it answers messages as
// floorServe does, one after another on blocking reads and writes, until
// end of file. It returns the exit code.
func floorServeLoop(f *os.File) int {
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		if code, err := floorEchoOne(r, f); err != nil {
			return code
		}
	}
}
