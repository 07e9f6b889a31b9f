//go:build !mpgen_portable

package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// selfImage starts the very image that runs, even when the program's file
// was deleted or replaced, but names the child "exe".
const selfImage = "/proc/self/exe"

// ownImage returns the file to start the program's own image from: the
// program's file while it is the image that runs, else selfImage. (A
// variable: a test makes the file change between this check and the
// start.)
//
// The program's path is read once: the image that runs never changes, and
// the stat that follows, on every start, tells whether the file at that
// path is still that image (a deleted or replaced file is not).
var ownImage = func() (string, error) {
	path := imagePath()
	if path == "" || !isOwnImage(path) {
		return selfImage, nil
	}
	return path, nil
}

// imagePath is the path the program's image was started from, as the
// kernel first reported it, or "" when it is not an absolute path.
var imagePath = sync.OnceValue(func() string {
	path, err := os.Readlink(selfImage) // "/path (deleted)" once deleted: no such file, or another
	if err != nil || len(path) == 0 || path[0] != '/' {
		return ""
	}
	return path
})

// runsOwnImage reports whether process pid runs this program's image.
func runsOwnImage(pid int) bool {
	return isOwnImage("/proc/" + strconv.Itoa(pid) + "/exe")
}

// isOwnImage reports whether the file at path is the image that runs.
func isOwnImage(path string) bool {
	self.once.Do(func() { self.err = syscall.Stat(selfImage, &self.st) })
	var st syscall.Stat_t
	return self.err == nil && syscall.Stat(path, &st) == nil && st.Dev == self.st.Dev && st.Ino == self.st.Ino
}

var self struct {
	once sync.Once
	st   syscall.Stat_t
	err  error
}

// TakeParentName gives this process its parent's command name, which ps,
// top and pgrep show, when the kernel named it "exe" because it was started
// from /proc/self/exe (the program's file was deleted or replaced).
func TakeParentName() {
	own, err := os.ReadFile("/proc/self/comm")
	if err != nil || string(own) != "exe\n" {
		return
	}
	parent, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", os.Getppid()))
	if err != nil || bytes.Equal(parent, own) {
		return
	}
	// Written to /proc/self, this names the process (its main thread),
	// whichever thread writes.
	_ = os.WriteFile("/proc/self/comm", bytes.TrimSuffix(parent, []byte("\n")), 0)
}
