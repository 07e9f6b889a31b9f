package mpnats_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	"github.com/mpgen/mpgen/mpnats"
	"github.com/mpgen/mpgen/mpnats/natstest"
	mp "github.com/mpgen/mpgen/runtime"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

var _ = targets.Add // the test targets: this binary registers them, as caller and as worker

// TestMain makes the test binary a worker process when workerEnv says so
// (see startWorker): it serves until it is killed or its stdin closes.
// Otherwise it installs the main guard, so that BenchmarkLocalPool's pool
// can start its workers as children of this binary.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(serveFromEnv())
	}
	mp.Guard()
	os.Exit(m.Run())
}

const workerEnv = "MPNATS_TEST_WORKER" // the app name; the options follow in MPNATS_TEST_OPTS

// serveFromEnv is a worker process's life: it reports "ready" on stdout
// once served, and serves until stdin closes (its test ended).
func serveFromEnv() int {
	app := os.Getenv(workerEnv)
	nc, err := mpnats.ConnectFromEnv(app)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer nc.Close()
	opts := []mpnats.Option{mpnats.App(app), mpnats.OnReady(func() { fmt.Println("ready") })}
	for _, o := range strings.Fields(os.Getenv("MPNATS_TEST_OPTS")) {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "durable":
			opts = append(opts, mpnats.Durable(true))
		case "slots":
			n, _ := strconv.Atoi(v)
			opts = append(opts, mpnats.Slots(n))
		case "ackwait":
			d, _ := time.ParseDuration(v)
			opts = append(opts, mpnats.AckWait(d))
		case "maxdeliver":
			n, _ := strconv.Atoi(v)
			opts = append(opts, mpnats.MaxDeliver(n))
		case "echo": // a bare NATS responder besides the worker (see serveEcho)
			n, _ := strconv.Atoi(v)
			stop, err := serveEcho(app, n)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			defer stop()
		case "cpuprofile": // profile this worker process until it ends
			f, err := os.Create(v)
			if err == nil {
				err = pprof.StartCPUProfile(f)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			defer pprof.StopCPUProfile()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // the test closes our stdin when it ends
		var b [1]byte
		os.Stdin.Read(b[:])
		cancel()
	}()
	if err := mpnats.Serve(ctx, nc, opts...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// workerProc is a worker process started by a test.
type workerProc struct {
	cmd *exec.Cmd
	in  *os.File
}

// startWorker re-executes the test binary as a worker of app on server s
// (opts as in serveFromEnv; "variant" registers another build's
// targets), and returns once it is ready.
func startWorker(t testing.TB, s *server.Server, app string, opts ...string) *workerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+app, "NATS_URL="+s.ClientURL(), "MPNATS_TEST_OPTS="+strings.Join(opts, " "))
	if slices.Contains(opts, "variant") { // registers another build's targets
		cmd.Env = append(cmd.Env, variantEnv+"=1")
	}
	cmd.Stderr = os.Stderr
	in, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = in
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.Close()
	p := &workerProc{cmd: cmd, in: w}
	t.Cleanup(func() {
		w.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan error, 1)
	go func() {
		buf := make([]byte, 6)
		_, err := out.Read(buf)
		if err == nil && string(buf) != "ready\n" {
			err = fmt.Errorf("worker said %q", buf)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("worker process: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker process not ready in 30s")
	}
	return p
}

// kill SIGKILLs the worker process.
func (p *workerProc) kill() { p.cmd.Process.Signal(syscall.SIGKILL) }

// connect connects to s for app as ConnectFromEnv does.
func connect(t testing.TB, s *server.Server, app string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	t.Setenv("NATS_URL", s.ClientURL())
	nc, err := mpnats.ConnectFromEnv(app, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// serveHere runs a worker of app in this process until the test ends, and
// returns once it is ready.
func serveHere(t testing.TB, s *server.Server, app string, opts ...mpnats.Option) {
	t.Helper()
	serveOn(t, connect(t, s, app), app, opts...)
}

// serveOn runs a worker of app on nc until the test ends, and returns
// once it is ready.
func serveOn(t testing.TB, nc *nats.Conn, app string, opts ...mpnats.Option) {
	t.Helper()
	stop := startServe(t, nc, app, opts...)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

// startServe runs a worker of app through nc in this process and returns
// once it is ready; stop ends its Serve and returns what Serve returned.
func startServe(t testing.TB, nc *nats.Conn, app string, opts ...mpnats.Option) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- mpnats.Serve(ctx, nc, append(opts, mpnats.App(app), mpnats.OnReady(func() { close(ready) }))...)
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Serve: %v", err)
	}
	return func() error {
		cancel()
		return <-done
	}
}

// dial returns a pool of app's workers on s, ended when the test ends.
func dial(t testing.TB, s *server.Server, app string, opts ...mpnats.Option) *mp.Pool {
	t.Helper()
	return dialOn(t, connect(t, s, app), app, opts...)
}

// dialOn returns a pool of app's workers through nc, ended when the test
// ends.
func dialOn(t testing.TB, nc *nats.Conn, app string, opts ...mpnats.Option) *mp.Pool {
	t.Helper()
	pool, err := mpnats.Dial(context.Background(), nc, append(opts, mpnats.App(app))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		if err := pool.JoinTimeout(10 * time.Second); err != nil {
			t.Errorf("pool.Join: %v", err)
		}
	})
	return pool
}

var runServer = natstest.Run
