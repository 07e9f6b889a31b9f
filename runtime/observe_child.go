package mp

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"

	"github.com/mpgen/mpgen/runtime/internal/proc"
)

// The environment variables that observe children.
const (
	// envProfile names a directory: each child writes a CPU and a heap
	// profile there (see observeChild).
	envProfile = "MPGEN_PROFILE"
	// envDebugWait names the children that wait for a debugger at start.
	envDebugWait = "MPGEN_DEBUG_WAIT"
)

// The attributes a child's default slog logger carries.
const (
	slogProcess = "mp.process" // the process's name, e.g. Process-1
	slogPid     = "mp.pid"     // its pid
	slogTarget  = "mp.target"  // the target's registered name (not in a pool worker)
)

// observeChild sets up what observes this child, after the handshake and
// before any target runs: the default slog logger's attributes, the
// profiles MPGEN_PROFILE asks for, and the debugger's wait MPGEN_DEBUG_WAIT
// asks for. name is the process's name; target is the target's
// registered name, or "" in a pool worker, which runs many.
func observeChild(name, target string) {
	attrs := []slog.Attr{slog.String(slogProcess, name), slog.Int(slogPid, os.Getpid())}
	if target != "" {
		attrs = append(attrs, slog.String(slogTarget, target))
	}
	// The handler wraps the default one, which an init function of the
	// program may have set: its format and destination stay.
	slog.SetDefault(slog.New(slog.Default().Handler().WithAttrs(attrs)))

	if dir := os.Getenv(envProfile); dir != "" {
		startProfiles(dir, name)
	}
	if debugWanted(os.Getenv(envDebugWait), name, target) {
		what := "target " + target
		if target == "" {
			what = "pool worker"
		}
		pid := os.Getpid()
		proc.WaitForDebugger(fmt.Sprintf("mpgen: %s (%s) pid %d waiting for a debugger: dlv attach %d", name, what, pid, pid))
	}
}

// debugWanted reports whether the MPGEN_DEBUG_WAIT value list (names
// separated by commas) names this child: by its process name, its target's
// registered name, that name after its last '/' (package.Func) or after its
// last '.' (Func), or "*" for every child.
func debugWanted(list, name, target string) bool {
	if list == "" {
		return false
	}
	short := target[strings.LastIndexByte(target, '/')+1:]
	for w := range strings.SplitSeq(list, ",") {
		switch w = strings.TrimSpace(w); {
		case w == "":
		case w == "*" || w == name:
			return true
		case target != "" && (w == target || w == short || w == short[strings.LastIndexByte(short, '.')+1:]):
			return true
		}
	}
	return false
}

// exitHooks run once when the child exits on its own terms (exitChild, or
// dying of a terminate request): they flush what observes it.
var exitHooks struct {
	sync.Mutex
	fns  []func()
	done bool
}

func atChildExit(f func()) {
	exitHooks.Lock()
	defer exitHooks.Unlock()
	exitHooks.fns = append(exitHooks.fns, f)
}

// runExitHooks runs the AtChildExit functions and then the exit hooks
// (the profiles, written last so they include the functions' work), once,
// whichever goroutine asks first; a second caller waits until they have
// run. Every end of a child but a kill goes through it: Guard's exit after
// runChild, a worker's exit, and a death of SIGTERM.
func runExitHooks() {
	if !authenticated.Load() {
		return // a process that failed its handshake runs nothing
	}
	runChildExit()
	exitHooks.Lock()
	defer exitHooks.Unlock()
	if exitHooks.done {
		return
	}
	exitHooks.done = true
	for _, f := range exitHooks.fns {
		f()
	}
}

// exitChild ends the child with code, after its exit hooks.
func exitChild(code int) {
	runExitHooks()
	os.Exit(code)
}

// dieOfTerminate ends the child by the signal that asked it to terminate
// (proc.DieOfTerminate), after its exit hooks.
func dieOfTerminate() {
	runExitHooks()
	proc.DieOfTerminate()
}

// startProfiles starts the CPU profile of this child in dir, and has its
// exit write the heap profile beside it: cpu-<name>-<pid>.pprof and
// heap-<name>-<pid>.pprof, in the format of runtime/pprof, which go tool
// pprof reads and merges. A child that cannot says so on stderr and runs
// on.
func startProfiles(dir, name string) {
	base := fileSafe(name) + "-" + strconv.Itoa(os.Getpid()) + ".pprof"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "mpgen: %s=%s: %v; no profiles\n", envProfile, dir, err)
		return
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu-"+base))
	if err == nil {
		if err = pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			cpu = nil
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mpgen: %s: CPU profile: %v\n", envProfile, err)
	}
	atChildExit(func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		runtime.GC() // the heap profile's figures are as of the last GC
		heap, err := os.Create(filepath.Join(dir, "heap-"+base))
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(heap, 0)
			if cerr := heap.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "mpgen: %s: heap profile: %v\n", envProfile, err)
		}
	})
}

// fileSafe replaces the bytes of name that do not belong in a file name.
func fileSafe(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, name)
}
