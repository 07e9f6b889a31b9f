package mp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/proc"
	"github.com/mpgen/mpgen/runtime/internal/registry"
	"github.com/mpgen/mpgen/runtime/internal/sandbox"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// Limits that keep the handshake within the child's 64 KiB hello limit.
const (
	maxAuthKey = 1024
	maxName    = 4096
)

// channelLossGrace is how long a child whose control channel ended without
// an outcome has to exit before it is killed.
const channelLossGrace = 2 * time.Second

// Defaults of a Process and of the wire.
const (
	// DefaultKillDelay is how long Terminate waits after the graceful
	// signal before it kills a child that is still running.
	DefaultKillDelay = 5 * time.Second
	// DefaultMaxFrameSize is the largest frame a process accepts unless
	// SetMaxFrameSize says otherwise: 1 GiB.
	DefaultMaxFrameSize = 1 << 30
)

// Process runs a target in a child process: Python's
// multiprocessing.Process, shaped like os/exec.Cmd. Set the exported fields,
// then call Start and Join:
//
//	p := &mp.Process{Target: work, Args: []any{"work_1"}}
//	if err := p.Start(); err != nil { ... }
//	err := p.Join() // the target's error, panic or abnormal exit, or nil
//
// Target is a top-level function annotated with //mp:target, or a value (or
// pointer) of a type annotated with //mp:target whose Run method is the body
// and whose exported fields travel to the child. The exported fields must not
// be changed after Start. A Process is safe for concurrent use by multiple
// goroutines once started.
type Process struct {
	// Target is the function or type-target value to run.
	Target any
	// Args are the positional arguments, matched in order to the target's
	// parameters (a leading context.Context parameter is not counted: the
	// child supplies it).
	Args []any
	// Kwargs are keyword arguments, matched by parameter name.
	Kwargs map[string]any
	// Name is the process's name; Start sets "Process-N" when it is empty.
	Name string
	// Daemon marks a daemon process, which may not start children of its
	// own. Every child, daemon or not, ends when its parent does.
	Daemon bool
	// AuthKey, when set, replaces the inherited authentication key for
	// the child (see Info.AuthKey).
	AuthKey []byte
	// Stdout and Stderr receive the child's output. Unlike os/exec.Cmd,
	// nil means inherit this process's stdout and stderr, as Python does.
	Stdout, Stderr io.Writer
	// Prefix labels the lines the child writes to Stdout and Stderr with
	// its name and pid (see OutputPrefix); the zero value leaves it to
	// the environment variable MPGEN_PREFIX.
	Prefix OutputPrefix
	// Codec serializes arguments and the result; nil means Gob.
	Codec Codec
	// KillDelay is how long Terminate waits before killing a child that
	// has not ended; 0 means DefaultKillDelay.
	KillDelay time.Duration
	// Sandbox, when not nil, confines the child (Linux): see Sandbox.
	Sandbox *Sandbox

	mu          sync.Mutex
	state       procState
	spec        *registry.Spec
	codec       Codec
	cmd         *exec.Cmd
	done        chan struct{}
	killer      *time.Timer
	ctl         *os.File      // the parent's end of the control channel
	sent        chan struct{} // closed once the hello and call are written (or failed)
	asked       bool          // a terminate request went over ctl
	stopCtx     func() bool
	stopped     error // ctx.Err() when the context of StartContext terminated the child
	exitCode    int
	result      any
	err         error
	seq         int64
	ran         bool          // Run has returned
	killed      atomic.Bool   // this process sent the child a SIGKILL
	sandboxSpec *sandbox.Spec // Sandbox as checked at Start
}

type procState int

const (
	stateNew procState = iota
	stateStarted
	stateEnded
	stateClosed
)

// Start starts the child process and returns without waiting for it
// (Python's start()). Every check happens before a process is made: the
// main guard, the target's registration, the arguments' number, names and
// types, and their encoding.
func (p *Process) Start() error { return p.StartContext(context.Background()) }

// StartContext is Start with a context: when ctx is done before the child
// ends, the child is terminated as by Terminate. A ctx already done starts
// nothing: StartContext returns a *TimeoutError once its deadline passed,
// else ctx.Err().
func (p *Process) StartContext(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.state {
	case stateClosed:
		return ErrClosed
	case stateStarted, stateEnded:
		return ErrStarted
	}
	if !guardInstalled.Load() {
		return ErrNoGuard
	}
	if CurrentProcess().Daemon {
		return ErrDaemonChildren
	}
	if ctx.Err() != nil {
		return giveUp(ctx, "Process.Start", time.Time{})
	}
	spec, err := resolve(p.Target)
	if err != nil {
		return err
	}
	vals, err := bind(spec, p.Target, p.Args, p.Kwargs)
	if err != nil {
		return err
	}
	codec := p.Codec
	if codec == nil {
		codec = gobCodec{}
	}
	if _, ok := lookupCodec(codec.Name()); !ok {
		return fmt.Errorf("mp: codec %q is not registered: call mp.RegisterCodec from an init function so the child has it too", codec.Name())
	}
	carrier := inject(ctx)
	args, err := encodeArgs(spec, codec, vals, carrier)
	if err != nil {
		return err
	}
	ident := nextIdent()
	if p.Name == "" {
		p.Name = identName(ident)
	}
	key := p.AuthKey
	if len(key) == 0 {
		key = authKey()
	}
	if len(key) < 16 || len(key) > maxAuthKey {
		closeFiles(argFiles(args))
		return fmt.Errorf("mp: AuthKey must be 16 to %d bytes, got %d", maxAuthKey, len(key))
	}
	if len(p.Name) > maxName {
		closeFiles(argFiles(args))
		return fmt.Errorf("mp: Name must be at most %d bytes, got %d", maxName, len(p.Name))
	}
	sp, err := p.Sandbox.spec()
	if err != nil {
		closeFiles(argFiles(args))
		return err
	}
	call := (&wire.Call{Target: spec.Name, Codec: codec.Name(), Args: args, Carrier: carrier}).Payload()
	files := argFiles(args)

	cmd, conn, outs, msg, err := launch(childSpec{name: p.Name, ident: ident, daemon: p.Daemon, authkey: key, stdout: p.Stdout, stderr: p.Stderr, prefix: p.Prefix, target: spec.Name, sandbox: sp})
	if err != nil {
		closeFiles(files)
		return fmt.Errorf("mp: start %s: %w", spec.Name, err)
	}

	p.spec, p.codec, p.cmd, p.sandboxSpec = spec, codec, cmd, sp
	p.ctl, p.sent = conn, make(chan struct{})
	p.state = stateStarted
	p.doneChan()
	children.Lock()
	childSeq++
	p.seq = childSeq
	children.m[p] = struct{}{}
	children.Unlock()
	if ctx.Done() != nil {
		p.stopCtx = context.AfterFunc(ctx, func() { p.stopFor(ctx.Err()) })
	}
	go p.supervise(conn, outs, msg, call, files)
	return nil
}

var childSeq int64 // guarded by children's mutex

// childSpec is what launch needs to know about a new child.
type childSpec struct {
	name           string
	ident          []int
	daemon         bool
	authkey        []byte
	stdout, stderr io.Writer
	prefix         OutputPrefix
	worker         bool
	target         string        // the target's registered name, for a Process
	sandbox        *sandbox.Spec // what confines the child, or nil
}

// childExe names the file children start from: "" for the program's own
// image (tests set a copy of the binary).
var childExe string

// workerArg is a pool worker's argv[1]; a target's name cannot hold a
// colon, so no target's can be the same.
const workerArg = "mp:pool:worker"

// launch starts a child and returns it, the parent's end of its control
// channel, and the hello frame to send first. The child's argv is the
// program's argv[0] and "mp:" followed by the target's name, so that ps
// shows which target each child runs; nothing else goes there, since any
// process can read it.
func launch(c childSpec) (*exec.Cmd, *os.File, *proc.Outputs, []byte, error) {
	arg := "mp:" + c.target
	if c.worker {
		arg = workerArg
	}
	stdout, stderr := c.stdout, c.stderr
	if m := c.prefix.mode(); m != proc.PrefixNone {
		stdout = &proc.Labeled{W: stdout, Name: c.name, Mode: m}
		stderr = &proc.Labeled{W: stderr, Name: c.name, Mode: m}
	}
	var env []string
	var prepare func(*exec.Cmd) error
	if c.sandbox != nil {
		env = []string{sandbox.Env + "=" + c.sandbox.Encode()}
		prepare = func(cmd *exec.Cmd) error { return sandbox.Prepare(c.sandbox, cmd) }
	}
	cmd, conn, outs, err := proc.Spawn(childExe, []string{arg}, envMarker, env, stdout, stderr, prepare)
	if err != nil && c.sandbox != nil {
		return nil, nil, nil, nil, sandboxStartError(c.sandbox, err)
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	h := wire.Hello{
		Nonce:      nonce,
		ParentPid:  os.Getpid(),
		ChildPid:   cmd.Process.Pid,
		Authkey:    c.authkey,
		Ident:      c.ident,
		Name:       c.name,
		Daemon:     c.daemon,
		ParentName: CurrentProcess().Name,
		MaxFrame:   maxFrameSize.Load(),
		Worker:     c.worker,
		Inherited:  proc.InheritableFDs(), // while the child initialises
	}
	return cmd, conn, outs, wire.AppendFrame(nil, wire.KindHello, 0, h.Encode()), nil
}

// outcome is what the conversation with the child produced.
type outcome struct {
	got    bool // an outcome frame arrived
	result any
	err    error // the target's error or panic, or a protocol error
}

// supervise talks to the child and reaps it: it sends the hello and the
// call, reads the outcome, waits for the exit and then publishes everything
// and closes the sentinel.
func (p *Process) supervise(conn *os.File, outs *proc.Outputs, hello []byte, call wire.Payload, files []*os.File) {
	talked := make(chan outcome, 1)
	go func() { talked <- p.converse(conn, hello, call, files) }()
	waited := make(chan error, 1)
	go func() { waited <- p.cmd.Wait() }()

	var out outcome
	var waitErr error
	select {
	case waitErr = <-waited:
		// The child is gone; whatever it sent is already buffered in the
		// socket. Bound the read so a descriptor leaked to a grandchild
		// can never hang us.
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		out = <-talked
	case out = <-talked:
		if out.got {
			waitErr = <-waited
			break
		}
		// The channel ended without an outcome. An exiting child closes
		// it a moment before it is reaped; one that closed it and lives on
		// can never report, so it is stopped.
		select {
		case waitErr = <-waited:
		case <-time.After(channelLossGrace):
			// Once reaped, the child is only waiting for its output
			// pipes to drain (bounded by WaitDelay): leave it be.
			if !proc.Exited(p.cmd.Process) {
				p.killed.Store(true)
				_ = proc.Kill(p.cmd.Process)
				out = outcome{got: true, err: &ProtocolError{Op: "child " + p.spec.Name, Err: errors.New("closed its control channel without a result and did not exit; killed")}}
			}
			waitErr = <-waited
		}
	}
	conn.Close()
	outs.Wait(proc.OutputWait)

	code, _ := proc.ExitStatus(p.cmd.ProcessState)
	if code != 0 {
		// A child that crashed may have left shared-memory blocks that
		// nobody holds any more.
		_, _ = SweepSharedMemory()
	}
	var err error
	switch {
	case out.got || (out.err != nil && !isEOF(out.err)):
		err = out.err
	case code == 0 && errors.Is(out.err, io.ErrUnexpectedEOF):
		// It exited cleanly, yet its last frame was cut short.
		err = &ProtocolError{Op: "read from child " + p.spec.Name, Err: out.err}
	case code != 0:
		err = exitErrorOf(p.spec.Name, outs.Death(p.cmd.ProcessState, p.killed.Load()), p.sandboxSpec)
	case waitErr != nil && !errors.As(waitErr, new(*exec.ExitError)):
		err = fmt.Errorf("mp: wait for %s: %w", p.spec.Name, waitErr)
	}

	children.Lock()
	delete(children.m, p)
	children.Unlock()

	p.mu.Lock()
	p.exitCode, p.result, p.err = code, out.result, err
	p.state = stateEnded
	if p.killer != nil {
		p.killer.Stop()
	}
	if p.stopCtx != nil {
		p.stopCtx()
	}
	close(p.done)
	p.mu.Unlock()
}

// isEOF reports whether err only says that the child's end of the channel
// is gone (it exited or was killed, possibly with our frames unread, which
// a Unix socket reports as a reset), so its exit status tells the story.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// converse sends the hello and the call, with the descriptors of the
// call's handles beside them, and reads frames until the target's outcome.
func (p *Process) converse(conn *os.File, hello []byte, call wire.Payload, files []*os.File) outcome {
	err := wire.WriteFrames(fdio.NewRightsWriter(conn, files), hello, wire.KindCall, 1, call)
	close(p.sent)     // a terminate request may follow
	closeFiles(files) // the child has its own duplicates now
	if err != nil {
		// The child died before reading its call; its exit status says why.
		return outcome{err: io.EOF}
	}
	rd := fdio.NewReader(conn) // kept frames come with descriptors
	for {
		f, err := wire.ReadPeerFrame(rd, maxFrameSize.Load())
		if err == nil && f.Kind == wire.KindKept {
			err = takeKept(f.Body, rd.Take)
			if err == nil {
				continue
			}
		}
		if err != nil {
			if !isEOF(err) {
				_ = proc.Kill(p.cmd.Process) // the channel is garbled: stop the child
				return outcome{err: &ProtocolError{Op: "read from child " + p.spec.Name, Err: err}}
			}
			return outcome{err: err}
		}
		out, ok := p.decodeOutcome(f)
		if ok {
			return out
		}
	}
}

// decodeOutcome turns a result, error or panic frame into an outcome.
func (p *Process) decodeOutcome(f wire.Frame) (outcome, bool) {
	res, err, perr := outcomeOf(p.spec, p.codec, f.Kind, f.Body)
	if perr != nil {
		_ = proc.Kill(p.cmd.Process) // the channel is garbled: stop the child
		return outcome{got: true, err: &ProtocolError{Op: "decode " + f.Kind.String() + " from " + p.spec.Name, Err: perr}}, true
	}
	return outcome{got: true, result: res, err: err}, true
}

// outcomeOf decodes a result, error or panic frame body of a call of spec:
// the result, the target's error (a *RemoteError or *PanicError), or a
// protocol error when the frame is malformed or of another kind.
func outcomeOf(spec *registry.Spec, codec Codec, kind wire.Kind, body []byte) (res any, err error, protoErr error) {
	switch kind {
	case wire.KindResult:
		ev, perr := wire.DecodeResult(body)
		if perr != nil {
			return nil, nil, perr
		}
		if spec.Result == nil {
			return nil, nil, nil
		}
		v := reflect.New(spec.Result)
		if perr := decodeValue(codec, ev, v.Interface()); perr != nil {
			return nil, nil, fmt.Errorf("decode result: %w", perr)
		}
		return v.Elem().Interface(), nil, nil
	case wire.KindError:
		m, perr := wire.DecodeError(body)
		if perr != nil {
			return nil, nil, perr
		}
		return nil, rebuildError(spec.Name, codec, m), nil
	case wire.KindPanic:
		m, perr := wire.DecodePanic(body)
		if perr != nil {
			return nil, nil, perr
		}
		return nil, &PanicError{Target: spec.Name, Value: m.Value, Type: m.Type, Stack: m.Stack}, nil
	}
	return nil, nil, fmt.Errorf("unexpected %v frame", kind)
}

// doneChan returns the sentinel channel, making it on first use.
// p.mu must be held.
func (p *Process) doneChan() chan struct{} {
	if p.done == nil {
		p.done = make(chan struct{})
	}
	return p.done
}

// Run runs the target in the calling process, as Python's run(): the
// arguments are bound and checked as by Start but not serialized, and a
// panic in the target propagates. It returns the target's error and keeps
// its result for Result.
func (p *Process) Run() error {
	spec, err := resolve(p.Target)
	if err != nil {
		return err
	}
	vals, err := bind(spec, p.Target, p.Args, p.Kwargs)
	if err != nil {
		return err
	}
	res, err := callLocal(context.Background(), spec, vals)
	p.mu.Lock()
	p.result, p.err, p.ran = res, err, true
	p.mu.Unlock()
	return err
}

// Join waits for the child to end and returns its outcome: nil when the
// target returned normally (or the child exited with code 0), a
// *RemoteError for an error it returned, a *PanicError for a panic, an
// *ExitError when the child died without an outcome (os.Exit, a fatal
// runtime error, a signal), or a *ProtocolError. Join may be called any
// number of times, from any goroutine, until Close; after Close it returns
// ErrClosed, as Python does.
func (p *Process) Join() error { return p.JoinContext(context.Background()) }

// JoinTimeout is Join that gives up after d with a *TimeoutError; the
// child keeps running. With d <= 0 it does not wait: it returns the outcome
// of a child that has ended.
func (p *Process) JoinTimeout(d time.Duration) error {
	ctx, cancel := timeoutCtx(d)
	defer cancel()
	return within(d, p.JoinContext(ctx))
}

// JoinContext is Join that gives up when ctx is done: with a *TimeoutError
// once its deadline passed, else with ctx.Err(); the child keeps running.
func (p *Process) JoinContext(ctx context.Context) error {
	start := startOf(ctx)
	p.mu.Lock()
	switch p.state {
	case stateNew:
		p.mu.Unlock()
		return ErrNotStarted
	case stateClosed:
		p.mu.Unlock()
		return ErrClosed
	}
	done := p.doneChan()
	p.mu.Unlock()
	if !ended(ctx, done) {
		return giveUp(ctx, "Process.Join", start)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Result returns the target's result and error once the process has ended
// (after Join, or Run). It returns ErrNotStarted or ErrRunning before that.
func (p *Process) Result() (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.state {
	case stateNew:
		if p.ran {
			return p.result, p.err
		}
		return nil, ErrNotStarted
	case stateStarted:
		return nil, ErrRunning
	}
	return p.result, p.err
}

// IsAlive reports whether the child has started and not yet ended.
func (p *Process) IsAlive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == stateStarted
}

// Pid returns the child's process id, or 0 before Start.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// ExitCode returns the child's exit code and true once it has ended, or
// false while it runs or before Start (Python's None). Codes follow
// Python: 0 success, 1 the target returned an error or panicked, the code
// given to os.Exit, or -N when signal N killed the child.
func (p *Process) ExitCode() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != stateEnded && p.state != stateClosed {
		return 0, false
	}
	return p.exitCode, true
}

// Sentinel returns a channel that is closed when the child ends, for use in
// select (Python's sentinel). It may be called before Start.
func (p *Process) Sentinel() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.doneChan()
}

// Terminate asks the child to stop: SIGTERM (the child's context is
// cancelled; a target without a context ends at once, as in Python), then
// SIGKILL if it has not ended after KillDelay. On Windows, where there is
// no SIGTERM, the request goes over the control channel to the same
// effect, and the kill is TerminateProcess. It returns at once; Join
// waits. Terminating an ended process does nothing.
func (p *Process) Terminate() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.signalable(); err != nil || p.state == stateEnded {
		return err
	}
	if err := proc.Terminate(p.cmd.Process, p.askTerminate); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("mp: terminate %s: %w", p.Name, err)
	}
	if p.killer == nil {
		d := p.KillDelay
		if d <= 0 {
			d = DefaultKillDelay
		}
		child := p.cmd.Process
		p.killer = time.AfterFunc(d, func() {
			p.killed.Store(true)
			_ = proc.Kill(child)
		})
	}
	return nil
}

// askTerminate sends the child a request to terminate over its control
// channel, once its call has been written, for platforms without SIGTERM
// (proc.Terminate decides). p.mu is held.
func (p *Process) askTerminate() {
	if p.asked {
		return
	}
	p.asked = true
	ctl, sent := p.ctl, p.sent
	go func() {
		<-sent
		_, _ = ctl.Write(wire.Terminate[:]) // a closed channel: the child is gone
	}()
}

// stopFor terminates a running child because the context of StartContext
// is done with cause, and records cause for the Future of Spawn.
func (p *Process) stopFor(cause error) {
	p.mu.Lock()
	if p.state == stateStarted && p.stopped == nil {
		p.stopped = cause
	}
	p.mu.Unlock()
	_ = p.Terminate()
}

// stoppedBy returns the error of the context that terminated the child
// (nil if none did) and the target's name.
func (p *Process) stoppedBy() (error, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spec == nil {
		return p.stopped, ""
	}
	return p.stopped, p.spec.Name
}

// Kill stops the child at once with SIGKILL (on Windows TerminateProcess,
// reported as Terminate's -15, as Python does there).
func (p *Process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.signalable(); err != nil || p.state == stateEnded {
		return err
	}
	p.killed.Store(true)
	if err := proc.Kill(p.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("mp: kill %s: %w", p.Name, err)
	}
	return nil
}

func (p *Process) signalable() error {
	switch p.state {
	case stateNew:
		return ErrNotStarted
	case stateClosed:
		return ErrClosed
	}
	return nil
}

// Close releases the Process (Python's close()). It fails with ErrRunning
// while the child runs. After Close, methods that need the child return
// ErrClosed; the result, exit code and name stay readable.
func (p *Process) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == stateStarted {
		return ErrRunning
	}
	p.state = stateClosed
	return nil
}

// Info describes the child as a snapshot.
func (p *Process) Info() Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := Info{Name: p.Name, Daemon: p.Daemon}
	if p.cmd != nil && p.cmd.Process != nil {
		i.Pid = p.cmd.Process.Pid
	}
	return i
}

// String describes the process as Python's repr does, e.g.
// <Process name='Process-1' pid=1234 parent=1200 stopped exitcode=0>.
func (p *Process) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "<Process name='%s'", p.Name)
	if p.cmd != nil && p.cmd.Process != nil {
		fmt.Fprintf(&b, " pid=%d parent=%d", p.cmd.Process.Pid, os.Getpid())
	}
	switch p.state {
	case stateNew:
		b.WriteString(" initial")
	case stateStarted:
		b.WriteString(" started")
	case stateEnded:
		fmt.Fprintf(&b, " stopped exitcode=%d", p.exitCode)
	case stateClosed:
		b.WriteString(" closed")
	}
	if p.Daemon {
		b.WriteString(" daemon")
	}
	b.WriteString(">")
	return b.String()
}

// rebuildError turns an error frame into a *RemoteError whose chain holds
// the registered sentinels and typed errors of the original.
func rebuildError(target string, codec Codec, m *wire.ErrorMsg) error {
	e := &RemoteError{Target: target, Message: m.Message, Type: m.Type}
	for _, name := range m.Sentinels {
		if s, ok := registry.Sentinel(name); ok {
			e.wrapped = append(e.wrapped, s)
		}
	}
	for _, t := range m.Typed {
		typ, ok := registry.ErrorType(t.Name)
		if !ok {
			continue
		}
		v := reflect.New(typ)
		if err := codec.Unmarshal(t.Data, v.Interface()); err != nil {
			continue
		}
		if ev, ok := v.Elem().Interface().(error); ok {
			e.wrapped = append(e.wrapped, ev)
		}
	}
	return e
}

// describeError is the child's half of rebuildError.
func describeError(codec Codec, err error) *wire.ErrorMsg {
	m := &wire.ErrorMsg{Message: err.Error(), Type: fmt.Sprintf("%T", err)}
	m.Sentinels = registry.SentinelsIn(err)
	names, types := registry.ErrorTypes()
	for i, name := range names {
		v := reflect.New(types[i])
		if !errors.As(err, v.Interface()) {
			continue
		}
		data, merr := codec.Marshal(v.Elem().Interface())
		if merr != nil {
			continue
		}
		m.Typed = append(m.Typed, wire.TypedError{Name: name, Data: data})
	}
	return m
}

var maxFrameSize atomic.Int64

func init() { maxFrameSize.Store(DefaultMaxFrameSize) }

// SetMaxFrameSize sets the largest frame (one encoded call, result or error)
// this process will read, and the largest value (encoded) it sends or
// receives through a Queue or Conn. A longer frame is refused before any
// memory is allocated for it, and the call fails with a *ProtocolError; but
// the sender checks first, against its own limit: Start, pool calls, Put and
// Send refuse a value over it with an error that matches ErrTooLarge, and a
// child reports a result over it as that error. n <= 0 restores
// DefaultMaxFrameSize; n over math.MaxUint32 (4 GiB - 1 byte), the largest
// frame the wire's 32-bit length allows, sets that largest frame. A child
// inherits the limit of its parent when it starts. It returns the previous
// limit.
func SetMaxFrameSize(n int64) (previous int64) {
	switch {
	case n <= 0:
		n = DefaultMaxFrameSize
	case n > math.MaxUint32:
		n = math.MaxUint32
	}
	return maxFrameSize.Swap(n)
}

// frameOver reports whether a frame whose body is body bytes is over the
// frame limit, which its receiver applies too (a child has its parent's),
// and says by how much: the frame's length as the receiver counts it (kind,
// call id and body) and the limit.
func frameOver(body int) (n, limit int64, over bool) {
	n = int64(wire.HeaderLen-4) + int64(body)
	limit = maxFrameSize.Load()
	return n, limit, n > limit
}

// errTooLarge is the error of a frame of n bytes over limit: what carries
// what, in the words of its sender.
func errTooLarge(what string, n, limit int64) error {
	return fmt.Errorf("%w: %s would be a %d-byte frame, limit %d (see SetMaxFrameSize)", ErrTooLarge, what, n, limit)
}
