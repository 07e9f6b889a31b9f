package mp

import (
	"crypto/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Info describes a process of the program: the current one, its parent, or
// a child. It is a snapshot, safe to copy.
type Info struct {
	// Name is "MainProcess" for the program's first process, else the
	// child's name (by default "Process-N", or "Process-N:M" for the M-th
	// child of Process-N, as in Python).
	Name string
	// Pid is the operating-system process id.
	Pid int
	// Daemon reports whether the process was started as a daemon.
	Daemon bool
	// AuthKey is the process's authentication key (Python's
	// current_process().authkey), in CurrentProcess only: 32 random bytes
	// made when the main process starts, inherited by every child over its
	// control channel (never through argv or the environment).
	// Process.AuthKey overrides it for one child and its descendants.
	AuthKey []byte
}

func (i *Info) String() string {
	if i == nil {
		return "<nil>"
	}
	return "<" + i.Name + " pid=" + strconv.Itoa(i.Pid) + ">"
}

// self is what this process knows of itself and of its parent.
var self = struct {
	sync.RWMutex
	info    Info
	ident   []int
	authkey []byte
	parent  *Info
}{info: Info{Name: "MainProcess", Pid: os.Getpid()}}

var childCounter atomic.Int64

func init() {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	self.authkey = key
}

// CurrentProcess describes the process that calls it (Python's
// multiprocessing.current_process()), with a copy of its AuthKey.
func CurrentProcess() Info {
	self.RLock()
	defer self.RUnlock()
	i := self.info
	i.AuthKey = append([]byte(nil), self.authkey...)
	return i
}

// ParentProcess describes the process that started this one, or returns nil
// in the main process (Python's multiprocessing.parent_process()).
func ParentProcess() *Info {
	self.RLock()
	defer self.RUnlock()
	if self.parent == nil {
		return nil
	}
	p := *self.parent
	return &p
}

// authKey returns a copy of this process's authentication key (see
// Info.AuthKey).
func authKey() []byte {
	self.RLock()
	defer self.RUnlock()
	return append([]byte(nil), self.authkey...)
}

// nextIdent returns the identity of a new child: this process's identity
// plus the next counter value, as Python's _identity.
func nextIdent() []int {
	self.RLock()
	defer self.RUnlock()
	id := append(append([]int(nil), self.ident...), int(childCounter.Add(1)))
	return id
}

func identName(id []int) string {
	parts := make([]string, len(id))
	for i, n := range id {
		parts[i] = strconv.Itoa(n)
	}
	return "Process-" + strings.Join(parts, ":")
}

// becomeChild records what the parent's hello says about this process.
// authenticated is set once this process is a child whose parent's
// handshake checked out: only then does it run its exit functions.
var authenticated atomic.Bool

func becomeChild(h *wire.Hello) {
	authenticated.Store(true)
	self.Lock()
	defer self.Unlock()
	self.info = Info{Name: h.Name, Pid: os.Getpid(), Daemon: h.Daemon}
	self.ident = h.Ident
	self.authkey = h.Authkey
	self.parent = &Info{Name: h.ParentName, Pid: h.ParentPid}
}

// children is the set of started processes that have not ended.
var children = struct {
	sync.Mutex
	m map[*Process]struct{}
}{m: map[*Process]struct{}{}}

// ActiveChildren returns the children of this process that are still
// running (Python's multiprocessing.active_children()).
func ActiveChildren() []*Process {
	children.Lock()
	defer children.Unlock()
	out := make([]*Process, 0, len(children.m))
	for p := range children.m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}
