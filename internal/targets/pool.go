package targets

import (
	"errors"
	"os"
	"strconv"
)

// Identity returns its argument: the smallest possible pool task.
//
//mp:target
func Identity(x int) int { return x }

// FailOdd returns x, or an error wrapping ErrBoom when x is odd.
//
//mp:target
func FailOdd(x int) (int, error) {
	if x%2 == 1 {
		return 0, errors.Join(ErrBoom, errors.New("odd "+strconv.Itoa(x)))
	}
	return x, nil
}

// workerTag is set by InitWorker in each pool worker.
var workerTag string

// InitWorker is a pool initializer: it records tag in the worker.
//
//mp:target
func InitWorker(tag string) error {
	if tag == "" {
		return errors.New("empty tag")
	}
	workerTag = tag
	return nil
}

// WorkerTag returns the tag InitWorker set and the worker's pid.
//
//mp:target
func WorkerTag() string { return workerTag + "@" + strconv.Itoa(os.Getpid()) }

// Grow allocates n MiB and keeps it, to push a worker past a memory cap.
//
//mp:target
func Grow(n int) int {
	b := make([]byte, n<<20)
	for i := range b {
		b[i] = 1
	}
	hoard = append(hoard, b)
	return os.Getpid()
}

var hoard [][]byte
