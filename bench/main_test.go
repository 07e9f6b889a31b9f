package bench

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	mp "github.com/mpgen/mpgen/runtime"
)

// floorEnv makes the test binary a floor child: TestMain looks at it before
// anything else (only package init functions have run, as in an mpgen
// child) and exits at once, or after one exchange on descriptor 3.
const floorEnv = "MPGEN_BENCH_FLOOR"

// Floor child modes, the values of floorEnv.
const (
	floorExit       = "exit"       // exit(0) at once
	floorSocketpair = "socketpair" // one exchange on descriptor 3 (see floorServe), then exit(0)
	floorLoop       = "loop"       // exchanges on descriptor 3 until end of file (see floorServeLoop)
)

// floorEchoMax is the largest payload a socketpair floor child echoes back
// whole; it answers a larger one with its length only, as ByteLen does.
const floorEchoMax = 4 << 10

func TestMain(m *testing.M) {
	switch os.Getenv(floorEnv) {
	case "":
	case floorExit:
		os.Exit(0)
	case floorSocketpair:
		os.Exit(floorServe(os.NewFile(3, "floor-socketpair")))
	case floorLoop:
		os.Exit(floorServeLoop(os.NewFile(3, "floor-loop")))
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
