//go:build linux || windows

package mp_test

import (
	"errors"
	"fmt"
	"os"

	mp "github.com/mpgen/mpgen/runtime"
)

// An Array in shared memory: Slice aliases the mapping, so what a child
// process writes (here this process, for brevity) is read in place.
func ExampleNewArray() {
	a, err := mp.NewArray[float64](4)
	if err != nil {
		panic(err)
	}
	defer a.Close()
	s := a.Slice()
	for i := range s {
		s[i] = float64(i) / 2
	}
	a.Lock() // the optional lock, in the same segment
	s[0] = 42
	a.Unlock()
	fmt.Println(a.Len(), s)
	// Output: 4 [42 0.5 1 1.5]
}

// Acquire tells the caller when the previous holder died holding the lock.
func ExampleLock_Acquire() {
	l, err := mp.NewLock()
	if err != nil {
		panic(err)
	}
	defer l.Close()
	switch err := l.Acquire(); {
	case errors.Is(err, mp.ErrLockAbandoned):
		fmt.Println("holder crashed: repair the shared state")
	case err != nil:
		panic(err)
	}
	defer l.Unlock()
	fmt.Println("locked:", l.Locked())
	// Output: locked: true
}

// A named block that any process can attach to while some process holds
// it; the last Close removes it.
func ExampleCreateSharedMemory() {
	name := fmt.Sprintf("example-%d", os.Getpid()) // unique on the machine
	m, err := mp.CreateSharedMemory(name, 1<<20)
	if err != nil {
		panic(err)
	}
	defer m.Close()
	copy(m.Bytes(), "hello")

	other, err := mp.AttachSharedMemory(name) // in another process, usually
	if err != nil {
		panic(err)
	}
	defer other.Close()
	fmt.Println(string(other.Bytes()[:5]), other.Size())
	// Output: hello 1048576
}
