package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// playABI makes Check see a kernel with Landlock ABI abi until the test
// ends.
func playABI(t *testing.T, abi int) { t.Cleanup(PlayLandlockABI(abi)) }

func TestCheckOlderKernels(t *testing.T) {
	if kernelLandlockABI() < 6 {
		t.Skip("this kernel has not all of Landlock ABI 6 to play older kernels with")
	}
	for _, tc := range []struct {
		abi     int
		spec    Spec
		best    bool
		wantErr string // the Error's What, or "" for none
		wantABI int
		wantNet Network
	}{
		{abi: 0, spec: Spec{Network: NetAll}, wantErr: "ReadOnly and ReadWrite (Landlock)"},
		{abi: 0, spec: Spec{Network: NetAll}, best: true, wantABI: 0, wantNet: NetAll},
		{abi: 3, spec: Spec{Network: NetPorts, ConnectTCP: []uint16{443}}, wantErr: "ConnectTCP and BindTCP (Landlock)"},
		{abi: 3, spec: Spec{Network: NetPorts, ConnectTCP: []uint16{443}}, best: true, wantABI: 3, wantNet: NetAll},
		{abi: 5, spec: Spec{Network: NetAll}, wantErr: "Sandbox (Landlock)"},
		{abi: 5, spec: Spec{Network: NetPorts, ConnectTCP: []uint16{443}}, best: true, wantABI: 5, wantNet: NetPorts},
		{abi: 6, spec: Spec{Network: NetPorts, ConnectTCP: []uint16{443}}, wantABI: 6, wantNet: NetPorts},
	} {
		playABI(t, tc.abi)
		tc.spec.BestEffort = tc.best
		eff, err := Check(&tc.spec)
		var e *Error
		switch {
		case tc.wantErr != "":
			if !errors.As(err, &e) || e.What != tc.wantErr {
				t.Errorf("ABI %d, %+v: got %v, want an *Error for %s", tc.abi, tc.spec, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("ABI %d, %+v: %v", tc.abi, tc.spec, err)
		case eff.LandlockABI != tc.wantABI || eff.Network != tc.wantNet || !eff.Seccomp:
			t.Errorf("ABI %d, %+v: applies ABI %d, network %d, seccomp %v; want %d, %d, true", tc.abi, tc.spec, eff.LandlockABI, eff.Network, eff.Seccomp, tc.wantABI, tc.wantNet)
		}
	}
}

func TestCheckPaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A file takes the file rights of a read-write rule, not the
	// directory ones the kernel would refuse for it.
	if _, err := Check(&Spec{Network: NetAll, ReadOnly: []string{dir}, ReadWrite: []string{file}}); err != nil {
		t.Fatalf("a directory and a file: %v", err)
	}
	_, err := Check(&Spec{Network: NetAll, ReadWrite: []string{filepath.Join(dir, "missing")}})
	var e *Error
	if !errors.As(err, &e) || e.What != "ReadWrite" || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing path: got %v, want an *Error for ReadWrite matching ErrNotExist", err)
	}
}

func TestSpecRoundTrip(t *testing.T) {
	uid := uint32(65534)
	s := &Spec{Memory: 1 << 30, CPU: 2, ReadOnly: []string{"/a b"}, Network: NetPorts, ConnectTCP: []uint16{1, 65535}, UID: &uid, LandlockABI: 7, Seccomp: true}
	got, err := Decode(s.Encode())
	if err != nil || got.Encode() != s.Encode() || *got.UID != uid {
		t.Fatalf("Decode(Encode(%+v)) = %+v, %v", s, got, err)
	}
	if _, err := Decode("{"); err == nil {
		t.Fatal("Decode of a broken spec succeeded")
	}
}

func TestOutOfMemory(t *testing.T) {
	for _, tc := range []struct {
		tail    string
		threads bool
		want    bool
	}{
		{"x\nfatal error: runtime: out of memory\n", false, true},
		{"==1==ERROR: ThreadSanitizer failed to allocate 0x1000 (4096) bytes", false, true},
		{"runtime/cgo: pthread_create failed: Resource temporarily unavailable", true, true},
		{"runtime/cgo: pthread_create failed: Resource temporarily unavailable", false, false},
		{"fatal error: concurrent map writes", true, false},
	} {
		if got := outOfMemory(tc.tail, tc.threads); got != tc.want {
			t.Errorf("outOfMemory(%q, %v) = %v, want %v", tc.tail, tc.threads, got, tc.want)
		}
	}
}

// A path the child's user may not reach fails Check, as that user, though
// the parent (root) may reach it.
func TestCheckAsTheChildsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir() // 0700, root's
	nobody := uint32(65534)
	_, err := Check(&Spec{Network: NetAll, ReadOnly: []string{dir}, UID: &nobody, GID: &nobody})
	var e *Error
	if !errors.As(err, &e) || e.What != "ReadOnly" || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("a root-only directory for user 65534: got %v, want an *Error for ReadOnly matching ErrPermission", err)
	}
	if _, err := Check(&Spec{Network: NetAll, ReadOnly: []string{dir}}); err != nil {
		t.Fatalf("the same directory for root: %v", err)
	}
}

func TestFaultMemory(t *testing.T) {
	s := &Spec{Memory: 512 << 20, CPU: 2}
	for _, tc := range []struct {
		code   int
		maxRSS int64
		stderr string
		want   Fault
	}{
		{2, 0, "fatal error: runtime: out of memory", FaultMemory},
		{2, 300 << 20, "SIGSEGV: segmentation violation\nPC=0x42e59d m=0 sigcode=1 addr=0x0", FaultMemory},
		{2, 10 << 20, "SIGSEGV: segmentation violation\nPC=0x42e59d m=0 sigcode=1 addr=0x0", FaultNone}, // a small child's own crash
		{2, 300 << 20, "panic: runtime error: invalid memory address or nil pointer dereference", FaultNone},
		{1, 300 << 20, "fatal error: runtime: out of memory", FaultNone}, // its own exit code 1
		{-24, 0, "", FaultCPU},
	} {
		if got := s.Fault(tc.code, 0, tc.maxRSS, tc.stderr); got != tc.want {
			t.Errorf("Fault(%d, %d MiB, %q) = %v, want %v", tc.code, tc.maxRSS>>20, tc.stderr, got, tc.want)
		}
	}
}
