//go:build linux

package mp_test

// The soak test: many thousands of start/join cycles, one after another,
// all at once and from many goroutines, with faults mixed in, and a pool
// serving many thousands of calls through crashes, each phase followed by
// a leak check. It takes minutes, so it runs only when asked:
//
//	MPGEN_SOAK=1 go test -run '^TestSoak$' -v -timeout 60m ./runtime
//
// MPGEN_SOAK_SEQ, MPGEN_SOAK_CONC and MPGEN_SOAK_POOL change the number of
// sequential cycles (default 10000), of children alive at once and of
// cycles in the churn and fault phases (default 1000), and of pool calls
// (default 10000).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// runOne starts p, waits for it within a bound and closes it.
func runOne(p *mp.Process) error {
	if err := p.Start(); err != nil {
		return fmt.Errorf("Start: %w", err)
	}
	err := p.JoinTimeout(2 * time.Minute)
	if errors.Is(err, context.DeadlineExceeded) {
		_ = p.Kill()
		_ = p.Join()
		return fmt.Errorf("did not end within 2 minutes")
	}
	if cerr := p.Close(); cerr != nil {
		return fmt.Errorf("Close: %w", cerr)
	}
	return err
}

func TestSoak(t *testing.T) {
	if os.Getenv("MPGEN_SOAK") != "1" {
		t.Skip("the soak test runs only with MPGEN_SOAK=1 (it takes minutes)")
	}
	seq := envInt(t, "MPGEN_SOAK_SEQ", 10000)
	conc := envInt(t, "MPGEN_SOAK_CONC", 1000)
	calls := envInt(t, "MPGEN_SOAK_POOL", 10000)

	// Warm up: the first child and the first pool set up what stays.
	if err := runOne(&mp.Process{Target: targets.Noop}); err != nil {
		t.Fatal(err)
	}
	warmPool(t)

	var figures []string
	phase := func(name string, body func(t *testing.T) string) {
		t.Run(name, func(t *testing.T) {
			before := snapshot(t)
			t0 := time.Now()
			detail := body(t)
			took := time.Since(t0)
			l := before.check(t, 30*time.Second)
			f := fmt.Sprintf("%s: %s in %v; left behind: %v", name, detail, took.Round(time.Millisecond), l)
			t.Log(f)
			figures = append(figures, f)
		})
	}

	phase("sequential", func(t *testing.T) string {
		maxFDs := 0
		for i := 0; i < seq; i++ {
			p := &mp.Process{Target: targets.Echo, Args: []any{"soak"}}
			if err := runOne(p); err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
			if res, _ := p.Result(); res != "soak" {
				t.Fatalf("cycle %d: result %v", i, res)
			}
			if i%1000 == 999 {
				n := len(openFDs(t))
				maxFDs = max(maxFDs, n)
				t.Logf("%d cycles, %d descriptors open", i+1, n)
			}
		}
		return fmt.Sprintf("%d start/join cycles (at most %d descriptors open at the checkpoints)", seq, maxFDs)
	})

	phase("all at once", func(t *testing.T) string {
		// Every child opens the same FIFO, which blocks until a writer
		// opens it: all are alive at once until the parent does.
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		ps := make([]*mp.Process, conc)
		for i := range ps {
			ps[i] = &mp.Process{Target: targets.AwaitOpen, Args: []any{fifo, i}}
			if err := ps[i].Start(); err != nil {
				for _, p := range ps[:i] {
					_ = p.Kill()
					_ = p.Join()
				}
				t.Fatalf("child %d: Start: %v", i, err)
			}
		}
		peak := len(childrenOf(os.Getpid()))
		// Children that reach the FIFO after this open pass at once; the
		// write end stays open until every child is joined.
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		var wg sync.WaitGroup
		errs := make([]error, conc)
		for i, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if errs[i] = p.JoinTimeout(5 * time.Minute); errs[i] != nil {
					_ = p.Kill()
					_ = p.Join()
					return
				}
				if res, _ := p.Result(); res != i+1 {
					errs[i] = fmt.Errorf("result %v, want %d", res, i+1)
				}
			}()
		}
		wg.Wait()
		w.Close()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("child %d: %v", i, err)
			}
		}
		return fmt.Sprintf("%d children started together (%d alive at the peak), joined from %d goroutines", conc, peak, conc)
	})

	phase("churn", func(t *testing.T) string {
		const workers = 20
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)) - 1; i < conc; i = int(next.Add(1)) - 1 {
					if err := runOne(&mp.Process{Target: targets.Noop}); err != nil {
						errs <- fmt.Errorf("cycle %d: %w", i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d start/join cycles from %d goroutines at once", conc, workers)
	})

	phase("faults", func(t *testing.T) string {
		counts := map[string]int{}
		var stderr targets.SyncBuffer // panics and fatal errors print there
		for i := 0; i < conc; i++ {
			var p *mp.Process
			var check func(err error) bool
			switch i % 6 {
			case 0:
				p = &mp.Process{Target: targets.Fail, Args: []any{"soak"}}
				check = func(err error) bool { return errors.Is(err, targets.ErrBoom) }
			case 1:
				p = &mp.Process{Target: targets.Panic, Args: []any{"soak"}}
				check = func(err error) bool { return errors.As(err, new(*mp.PanicError)) }
			case 2:
				p = &mp.Process{Target: targets.Exit, Args: []any{3}}
				check = func(err error) bool { var ee *mp.ExitError; return errors.As(err, &ee) && ee.Code == 3 }
			case 3:
				p = &mp.Process{Target: targets.MapRace, Args: []any{20 * time.Second}}
				check = func(err error) bool { var ee *mp.ExitError; return errors.As(err, &ee) && ee.Code == 2 }
			case 4:
				p = &mp.Process{Target: targets.SleepNoCtx, Args: []any{time.Hour}}
				check = func(err error) bool { var ee *mp.ExitError; return errors.As(err, &ee) && ee.Code == -9 }
			case 5:
				p = &mp.Process{Target: targets.Sleep, Args: []any{time.Hour}}
				check = func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
			}
			p.Stderr = &stderr
			if err := p.Start(); err != nil {
				t.Fatalf("cycle %d: Start: %v", i, err)
			}
			switch i % 6 {
			case 4:
				_ = p.Kill()
			case 5:
				// Join gives up; the child runs on until a cancelled
				// StartContext would end it: terminate it instead.
				// It reports its cancelled context, or dies of the
				// signal if that came before its handler was in place.
				check = func(err error) bool {
					var ee *mp.ExitError
					return errors.As(err, new(*mp.RemoteError)) || errors.As(err, &ee) && ee.Code == -15
				}
				if err := p.JoinTimeout(time.Millisecond); !errors.Is(err, context.DeadlineExceeded) && err != nil {
					t.Fatalf("cycle %d: JoinTimeout: %v", i, err)
				}
				_ = p.Terminate()
			}
			err := p.JoinTimeout(2 * time.Minute)
			if errors.Is(err, context.DeadlineExceeded) {
				_ = p.Kill()
				t.Fatalf("cycle %d: did not end", i)
			}
			if !check(err) {
				t.Fatalf("cycle %d: Join = %T %v", i, err, err)
			}
			counts[fmt.Sprintf("%T", err)]++
		}
		return fmt.Sprintf("%d cycles of failing targets (outcomes %v)", conc, counts)
	})

	phase("pool", func(t *testing.T) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		var stderr targets.SyncBuffer
		p, err := mp.NewPool(ctx, mp.Workers(4), mp.PoolOutput(nil, &stderr))
		if err != nil {
			t.Fatal(err)
		}
		crashes := 0
		fs := make([]*mp.Future[any], 0, calls)
		for i := 0; i < calls; i++ {
			if i%100 == 50 {
				fs = append(fs, p.ApplyAsync(ctx, targets.Exit, []any{7}, nil))
				crashes++
				continue
			}
			fs = append(fs, p.ApplyAsync(ctx, targets.Add, []any{i, 1}, nil))
		}
		for i, f := range fs {
			v, err := f.GetContext(ctx)
			if i%100 == 50 {
				var ee *mp.ExitError
				if !errors.As(err, &ee) || ee.Code != 7 {
					t.Fatalf("call %d: %v, want an *ExitError with code 7", i, err)
				}
				continue
			}
			if err != nil || v != i+1 {
				t.Fatalf("call %d: %v, %v", i, v, err)
			}
		}
		p.Terminate()
		if err := p.Join(); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d pool calls on 4 workers, %d of them crashing their worker, every other call answered right", calls, crashes)
	})

	for _, f := range figures {
		t.Log(f)
	}
}
