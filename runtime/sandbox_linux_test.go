package mp_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
	"github.com/mpgen/mpgen/runtime/internal/israce"
)

// runIn runs target in a child confined by sb and returns its result and
// error.
func runIn(t *testing.T, sb *mp.Sandbox, target any, args ...any) (any, error) {
	t.Helper()
	p := &mp.Process{Target: target, Args: args, Sandbox: sb}
	if err := p.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := p.JoinTimeout(60 * time.Second); err != nil {
		var te *mp.TimeoutError
		if errors.As(err, &te) {
			_ = p.Kill()
			t.Fatalf("the sandboxed child did not end: %v", err)
		}
		return nil, err
	}
	return p.Result()
}

func TestSandboxFiles(t *testing.T) {
	ro, rw, other := t.TempDir(), t.TempDir(), t.TempDir()
	for _, f := range []string{filepath.Join(ro, "allowed"), filepath.Join(other, "secret")} {
		if err := os.WriteFile(f, []byte("content of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sb := &mp.Sandbox{ReadOnly: []string{ro}, ReadWrite: []string{rw}}

	got, err := runIn(t, sb, targets.ReadFile, filepath.Join(ro, "allowed"))
	if err != nil || string(got.([]byte)) != "content of "+filepath.Join(ro, "allowed") {
		t.Fatalf("read an allowed file: %q, %v", got, err)
	}
	if _, err := runIn(t, sb, targets.ReadFile, filepath.Join(other, "secret")); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("read a file outside the allowed paths: got %v, want EACCES", err)
	}
	if _, err := runIn(t, sb, targets.ReadFile, "/etc/hostname"); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("read /etc/hostname: got %v, want a permission error", err)
	}
	if _, err := runIn(t, sb, targets.WriteFile, filepath.Join(ro, "new"), []byte("x")); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("write in a read-only directory: got %v, want EACCES", err)
	}
	if _, err := runIn(t, sb, targets.WriteFile, filepath.Join(ro, "allowed"), []byte("x")); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("overwrite a read-only file: got %v, want EACCES", err)
	}
	if _, err := runIn(t, sb, targets.WriteFile, filepath.Join(rw, "new"), []byte("written")); err != nil {
		t.Fatalf("write in a read-write directory: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(rw, "new")); err != nil || string(b) != "written" {
		t.Fatalf("the file the child wrote: %q, %v", b, err)
	}
	// Without a sandbox the same child reads the secret: the denial was
	// the sandbox's.
	if _, err := runIn(t, nil, targets.ReadFile, filepath.Join(other, "secret")); err != nil {
		t.Fatalf("read the secret unsandboxed: %v", err)
	}
}

// listen opens a TCP listener on loopback that accepts and closes
// connections until the test ends, and returns its port.
func listen(t *testing.T) uint16 {
	return uint16(listenOn(t, "tcp", "127.0.0.1:0").Addr().(*net.TCPAddr).Port)
}

// listenOn opens a listener on network and addr that accepts and closes
// connections until the test ends.
func listenOn(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

func TestSandboxNetwork(t *testing.T) {
	port, other := listen(t), listen(t)
	addr := func(p uint16) string { return "127.0.0.1:" + strconv.Itoa(int(p)) }

	if _, err := runIn(t, &mp.Sandbox{}, targets.Dial, addr(port)); !errors.Is(err, syscall.ENETUNREACH) {
		t.Fatalf("dial loopback with no network: got %v, want ENETUNREACH", err)
	}
	if _, err := runIn(t, &mp.Sandbox{Network: mp.Network{All: true}}, targets.Dial, addr(port)); err != nil {
		t.Fatalf("dial loopback with the network on: %v", err)
	}
	ports := &mp.Sandbox{Network: mp.Network{ConnectTCP: []uint16{port}}}
	if _, err := runIn(t, ports, targets.Dial, addr(port)); err != nil {
		t.Fatalf("dial an allowed port: %v", err)
	}
	if _, err := runIn(t, ports, targets.Dial, addr(other)); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("dial a port not allowed: got %v, want EACCES", err)
	}
	if _, err := runIn(t, ports, targets.DialUDP, addr(port)); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("send UDP with TCP ports allowed: got %v, want EACCES", err)
	}
}

// memoryLimit is a limit a child can start under: a race-detector build
// has some 300 MiB of shadow memory from its start.
func memoryLimit() int64 {
	if israce.Enabled {
		return 768 << 20
	}
	return 256 << 20
}

func TestSandboxMemory(t *testing.T) {
	sb := &mp.Sandbox{Memory: memoryLimit()}
	if got, err := runIn(t, sb, targets.Allocate, 16<<20); err != nil || got != 16<<20 {
		t.Fatalf("allocate 16 MiB under a %d MiB limit: %v, %v", sb.Memory>>20, got, err)
	}
	_, err := runIn(t, sb, targets.Allocate, 4<<30)
	var le *mp.LimitError
	if !errors.As(err, &le) || le.Limit != mp.LimitMemory {
		t.Fatalf("allocate 4 GiB under a %d MiB limit: got %v, want a *LimitError for Memory", sb.Memory>>20, err)
	}
	var ee *mp.ExitError
	if !errors.As(err, &ee) || ee.Cause != mp.CauseLimit {
		t.Fatalf("the limit's error is not in an *ExitError of cause CauseLimit: %v", err)
	}
}

func TestSandboxCPUTime(t *testing.T) {
	sb := &mp.Sandbox{CPUTime: time.Second}
	start := time.Now()
	_, err := runIn(t, sb, targets.Spin, 30*time.Second)
	var le *mp.LimitError
	if !errors.As(err, &le) || le.Limit != mp.LimitCPUTime {
		t.Fatalf("spin past a 1s CPU limit: got %v after %v, want a *LimitError for CPUTime", err, time.Since(start))
	}
	// A child that ignores the limit's SIGXCPU gets its SIGKILL a second
	// later.
	if _, err := runIn(t, sb, targets.SpinIgnoringCPULimit, 30*time.Second); !errors.As(err, &le) || le.Limit != mp.LimitCPUTime {
		t.Fatalf("spin ignoring SIGXCPU past a 1s CPU limit: got %v, want a *LimitError for CPUTime", err)
	}
	// A child that ends under its limit is not blamed on it.
	if n, err := runIn(t, sb, targets.Spin, 10*time.Millisecond); err != nil || n.(int) == 0 {
		t.Fatalf("spin 10ms under a 1s CPU limit: %v, %v", n, err)
	}
}

func TestSandboxOpenFiles(t *testing.T) {
	got, err := runIn(t, &mp.Sandbox{OpenFiles: 64}, targets.OpenPipes, 100)
	if !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("open 100 pipes under a limit of 64 descriptors: %v, %v; want EMFILE", got, err)
	}
}

func TestSandboxFileSize(t *testing.T) {
	dir := t.TempDir()
	sb := &mp.Sandbox{ReadWrite: []string{dir}, FileSize: 4096}
	if _, err := runIn(t, sb, targets.WriteFile, filepath.Join(dir, "small"), make([]byte, 4096)); err != nil {
		t.Fatalf("write 4096 bytes under a 4096-byte limit: %v", err)
	}
	if _, err := runIn(t, sb, targets.WriteFile, filepath.Join(dir, "big"), make([]byte, 8192)); !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("write 8192 bytes under a 4096-byte limit: got %v, want EFBIG", err)
	}
}

func TestSandboxPrivileges(t *testing.T) {
	sb := &mp.Sandbox{ReadOnly: []string{"/proc"}, OpenFiles: 256}
	got, err := runIn(t, sb, targets.Status, []string{"NoNewPrivs", "Seccomp", "CapEff", "CapBnd"})
	if err != nil {
		t.Fatal(err)
	}
	st := got.(map[string]string)
	if st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
		t.Errorf("the child's status: %v; want NoNewPrivs 1 and Seccomp 2 (filter)", st)
	}
	if st["CapEff"] != "0000000000000000" || st["CapBnd"] != "0000000000000000" {
		t.Errorf("the child's capabilities: %v; want none", st)
	}
	if _, err := runIn(t, sb, targets.RaiseFileLimit); !errors.Is(err, syscall.EPERM) {
		t.Errorf("raise the descriptor limit: got %v, want EPERM", err)
	}
}

// asOtherUser returns the user a test's child runs as when this test runs
// as root, and makes the children start from a copy of the test binary
// that user may execute (go test's is in a directory only root may enter).
func asOtherUser(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running a child as another user needs root")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for d := dir; d != filepath.Dir(os.TempDir()) && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if d == os.TempDir() {
			break
		}
	}
	cp := filepath.Join(dir, "mp-copy.test")
	copyFile(t, exe, cp, 0o755)
	t.Cleanup(mp.StartChildrenFrom(cp))
	return "65534"
}

func TestSandboxUser(t *testing.T) {
	user := asOtherUser(t)
	got, err := runIn(t, &mp.Sandbox{User: user}, targets.UserIDs)
	if err != nil || got != [2]int{65534, 65534} {
		t.Fatalf("ids of a child run as %s: %v, %v", user, got, err)
	}
}

func TestSandboxProcesses(t *testing.T) {
	sb := &mp.Sandbox{ReadOnly: []string{"/usr", "/bin", "/lib", "/lib64"}, Processes: 32}
	if os.Geteuid() == 0 {
		p := &mp.Process{Target: targets.StartSleepers, Args: []any{"/bin/sleep", 1}, Sandbox: sb}
		var se *mp.SandboxError
		if err := p.Start(); !errors.As(err, &se) || se.Restriction != "Processes" {
			t.Fatalf("Processes for a child that runs as root: got %v, want a *SandboxError", err)
		}
		sb.User = asOtherUser(t)
	}
	if n, err := runIn(t, sb, targets.StartSleepers, "/bin/sleep", 4); err != nil || n != 4 {
		t.Fatalf("start 4 processes under a limit of 32: %v, %v", n, err)
	}
	if _, err := runIn(t, sb, targets.StartSleepers, "/bin/sleep", 100); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("start 100 processes under a limit of 32: got %v, want EAGAIN", err)
	}
	sb.Processes = 0
	if n, err := runIn(t, sb, targets.StartSleepers, "/bin/sleep", 40); err != nil || n != 40 {
		t.Fatalf("start 40 processes without a limit: %v, %v", n, err)
	}
}

func TestSandboxStartErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		sb   *mp.Sandbox
		what string
	}{
		{&mp.Sandbox{ReadOnly: []string{missing}}, "ReadOnly"},
		{&mp.Sandbox{Memory: -1}, "Memory"},
		{&mp.Sandbox{User: "no-such-user-here"}, "User"},
	} {
		p := &mp.Process{Target: targets.ReadFile, Args: []any{"/"}, Sandbox: tc.sb}
		err := p.Start()
		var se *mp.SandboxError
		if !errors.As(err, &se) || se.Restriction != tc.what {
			t.Errorf("Start with %+v: got %v, want a *SandboxError for %s", tc.sb, err, tc.what)
		}
		if p.Pid() != 0 {
			t.Errorf("a child started: pid %d", p.Pid())
		}
	}
	_, err := mp.NewPool(context.Background(), mp.Workers(1), mp.PoolSandbox(&mp.Sandbox{ReadWrite: []string{missing}}))
	var se *mp.SandboxError
	if !errors.As(err, &se) || se.Restriction != "ReadWrite" {
		t.Errorf("NewPool: got %v, want a *SandboxError for ReadWrite", err)
	}
}

func TestPoolSandbox(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := mp.NewPool(ctx, mp.Workers(1), mp.MaxTasksPerChild(1), mp.PoolSandbox(&mp.Sandbox{CPUTime: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	pids := map[int]bool{}
	for i := range 3 {
		if _, err := mp.Submit[[]byte](ctx, p, targets.ReadFile, secret).Get(); !errors.Is(err, syscall.EACCES) {
			t.Fatalf("call %d: read a secret in a sandboxed worker: got %v, want EACCES", i, err)
		}
		pid, err := mp.Submit[int](ctx, p, targets.Grow, 0).Get()
		if err != nil {
			t.Fatal(err)
		}
		pids[pid] = true
	}
	if len(pids) != 3 {
		t.Errorf("MaxTasksPerChild(1) gave pids %v; want a fresh worker per call", pids)
	}
	// A worker killed by its CPU limit fails its call with the limit's
	// error; its replacement is confined the same way.
	_, err = mp.Submit[int](ctx, p, targets.Spin, 30*time.Second).Get()
	var le *mp.LimitError
	if !errors.As(err, &le) || le.Limit != mp.LimitCPUTime {
		t.Fatalf("spin in a pool worker past its CPU limit: got %v, want a *LimitError", err)
	}
	if _, err := mp.Submit[[]byte](ctx, p, targets.ReadFile, secret).Get(); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("read a secret in the replacement worker: got %v, want EACCES", err)
	}
	if n := p.Insights().Ended[mp.EndLimit]; n != 1 {
		t.Errorf("the pool's insights count %d workers ended for a limit, want 1:\n%v", n, p.Insights())
	}
}

// The system call filter and Landlock's scope refuse what reaches past
// the child; the same calls work, or fail otherwise, without a sandbox.
func TestSandboxFilter(t *testing.T) {
	sb := &mp.Sandbox{}
	for _, what := range []string{"signal", "unshare", "io_uring", "prlimit"} {
		_, freeErr := runIn(t, nil, targets.Forbidden, what, os.Getpid())
		_, err := runIn(t, sb, targets.Forbidden, what, os.Getpid())
		if !errors.Is(err, syscall.EPERM) || errors.Is(freeErr, syscall.EPERM) {
			t.Errorf("%s: got %v in the sandbox (want EPERM) and %v without (want anything else)", what, err, freeErr)
		}
	}
}

// On a kernel without Landlock, BestEffort runs the child without the
// path rules and with every other restriction; without BestEffort, Start
// refuses.
func TestSandboxBestEffort(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer mp.PlayLandlockABI(0)()
	p := &mp.Process{Target: targets.ReadFile, Args: []any{secret}, Sandbox: &mp.Sandbox{}}
	var se *mp.SandboxError
	if err := p.Start(); !errors.As(err, &se) || se.Restriction != "ReadOnly and ReadWrite (Landlock)" {
		t.Fatalf("Start without Landlock: got %v, want a *SandboxError for Landlock", err)
	}
	sb := &mp.Sandbox{BestEffort: true, ReadOnly: []string{"/proc"}}
	if _, err := runIn(t, sb, targets.ReadFile, secret); err != nil {
		t.Fatalf("read a file with BestEffort and no Landlock: %v", err)
	}
	got, err := runIn(t, sb, targets.Status, []string{"NoNewPrivs", "Seccomp", "CapEff"})
	if st, _ := got.(map[string]string); err != nil || st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" || st["CapEff"] != "0000000000000000" {
		t.Fatalf("the status of a child with BestEffort and no Landlock: %v, %v", got, err)
	}
	if _, err := runIn(t, sb, targets.Dial, "127.0.0.1:"+strconv.Itoa(int(listen(t)))); !errors.Is(err, syscall.ENETUNREACH) {
		t.Fatalf("dial with BestEffort and no Landlock: got %v, want ENETUNREACH", err)
	}
}

// What Landlock and the network namespace do not cover, the filter does:
// a file's mode outside the paths, a Unix socket with a path, terminal
// input, and around the TCP port rules, TCP Fast Open and a listener
// without bind. Each works, or fails otherwise, without a sandbox.
func TestSandboxBeyondLandlock(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	listenOn(t, "unix", sock)
	port := listen(t)
	ports := &mp.Sandbox{Network: mp.Network{ConnectTCP: []uint16{port}}}
	for _, tc := range []struct {
		sb        *mp.Sandbox
		what, arg string
		want      error
	}{
		{&mp.Sandbox{}, "chmod", file, syscall.EPERM},
		{&mp.Sandbox{}, "unix", sock, syscall.EACCES},
		{&mp.Sandbox{Network: mp.Network{ConnectTCP: []uint16{port}}}, "unix", sock, syscall.EACCES},
		{&mp.Sandbox{}, "tiocsti", "", syscall.EPERM},
		{ports, "tfo", "127.0.0.1:" + strconv.Itoa(int(port)), syscall.EACCES},
		{ports, "listen", "", syscall.EACCES},
	} {
		_, free := runIn(t, nil, targets.ForbiddenAt, tc.what, tc.arg)
		_, err := runIn(t, tc.sb, targets.ForbiddenAt, tc.what, tc.arg)
		if !errors.Is(err, tc.want) || errors.Is(free, tc.want) {
			t.Errorf("%s: got %v in the sandbox (want %v) and %v without (want anything else)", tc.what, err, tc.want, free)
		}
	}
	if _, err := runIn(t, &mp.Sandbox{Network: mp.Network{BindTCP: []uint16{0}}}, targets.ForbiddenAt, "listen", ""); errors.Is(err, syscall.EACCES) {
		t.Errorf("listen with BindTCP set: %v", err)
	}
}

// A stale variable of the sandbox's in the parent's environment changes
// nothing: the child applies the sandbox its Process asked for.
func TestSandboxStaleEnvironment(t *testing.T) {
	t.Setenv("MPGEN_SANDBOX_SEALED", `{"net":2,"ll":0,"sc":false}`)
	t.Setenv("MPGEN_SANDBOX", `{"net":2,"ll":0,"sc":false}`)
	got, err := runIn(t, &mp.Sandbox{ReadOnly: []string{"/proc"}}, targets.Status, []string{"Seccomp", "NoNewPrivs"})
	if st, _ := got.(map[string]string); err != nil || st["Seccomp"] != "2" || st["NoNewPrivs"] != "1" {
		t.Fatalf("a sandboxed child with stale variables in the environment: %v, %v", got, err)
	}
	if _, err := runIn(t, &mp.Sandbox{ReadOnly: []string{"/proc"}}, targets.ReadFile, "/etc/hostname"); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("read /etc/hostname: got %v, want EACCES", err)
	}
}
