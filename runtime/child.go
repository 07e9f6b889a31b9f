package mp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/proc"
	"github.com/mpgen/mpgen/runtime/internal/registry"
	"github.com/mpgen/mpgen/runtime/internal/sandbox"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// envMarker names the environment variable that tells a re-executed binary
// it is a child. It only says where to look: nothing runs until the parent's
// handshake on the inherited descriptor checks out.
const envMarker = "MPGEN_CHILD"

// handshakeTimeout bounds the wait for the parent's hello and call.
const handshakeTimeout = 30 * time.Second

// Exit codes of a child process.
const (
	exitOK         = 0
	exitFailed     = 1 // the target returned an error or panicked
	exitBadStartup = 2 // marker without a valid handshake, or a protocol failure
)

var guardInstalled atomic.Bool

// Guard is the main guard. Generated code calls it from the init function of
// package main, after every other package is initialised and before main
// runs. In the parent it only records that the guard is there (Start refuses
// to spawn without it, so a missing guard can never fork-bomb). In a child
// it authenticates the parent's handshake, runs the target, reports its
// outcome and exits: it never returns.
//
// In a test binary, call it first thing in TestMain:
//
//	func TestMain(m *testing.M) { mp.Guard(); os.Exit(m.Run()) }
func Guard() {
	guardInstalled.Store(true)
	marker, ok := os.LookupEnv(envMarker)
	if !ok {
		// A sandbox's variables mean something only to a child that
		// its parent gave them: none of ours inherits stale ones.
		os.Unsetenv(sandbox.Env)
		os.Unsetenv(sandbox.EnvSealed)
		return
	}
	if code, ok := confine(marker); !ok {
		os.Exit(code)
	}
	// Our own children get their marker from us; nothing else we start
	// should see it.
	os.Unsetenv(envMarker)
	exitChild(runChild(marker))
}

// confine applies the child's sandbox, if it has one, before anything of
// the parent's is read: first on this thread, then (Enter executes the
// program again from it, and does not return) to the new image, which
// Seals it. It reports false and the exit code when the sandbox could not
// be applied: the child then exits without running anything.
func confine(marker string) (int, bool) {
	if v, ok := os.LookupEnv(sandbox.Env); ok {
		sp, err := sandbox.Decode(v)
		if err == nil {
			var fd int
			if fd, err = proc.ParseMarker(marker); err == nil {
				err = sandbox.Enter(sp, []int{0, 1, 2, fd})
			}
		}
		return childFail("sandbox: %v: not running anything", err), false
	}
	if v, ok := os.LookupEnv(sandbox.EnvSealed); ok {
		sp, err := sandbox.Decode(v)
		if err == nil {
			err = sandbox.Seal(sp)
		}
		if err != nil {
			return childFail("sandbox: %v: not running anything", err), false
		}
	}
	return 0, true
}

func childFail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "mpgen: "+format+"\n", args...)
	return exitBadStartup
}

// runChild is the child's life: handshake, call, outcome. It returns the
// exit code.
func runChild(marker string) int {
	fd, err := proc.ParseMarker(marker)
	if err != nil {
		return childFail("%s=%q is not a valid child marker; this program was not started by mpgen: unset %s to run it normally", envMarker, marker, envMarker)
	}
	conn, err := proc.ControlConn(fd)
	if err != nil {
		return childFail("%s is set but descriptor %d is not an mpgen control channel (%v): this program was not started by mpgen; unset %s to run it normally", envMarker, fd, err, envMarker)
	}
	// conn is never closed here: the exit closes it, and watchParent must
	// not mistake our own close for the parent's end.
	_ = conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	rd := fdio.NewReader(conn)

	f, err := wire.ReadFrame(rd, 64<<10)
	if errors.Is(err, io.EOF) {
		return childFail("no valid handshake from the parent on descriptor 3 (EOF): the channel closed before any handshake (did the parent exit?); not running anything")
	}
	if err != nil || f.Kind != wire.KindHello {
		return childFail("no valid handshake from the parent on descriptor %d (%v): this program was not started by mpgen", fd, describeFrameErr(f, err))
	}
	h, err := wire.DecodeHello(f.Body)
	if err != nil {
		return childFail("%v: refusing to run", err)
	}
	if h.ChildPid != os.Getpid() || h.ParentPid != os.Getppid() {
		return childFail("handshake is for process %d (parent %d), not this one (%d, parent %d): refusing to run", h.ChildPid, h.ParentPid, os.Getpid(), os.Getppid())
	}
	proc.CloseInherited(h.Inherited)
	proc.TakeParentName()
	// argv[1] told ps which target runs here; code that reads os.Args sees
	// the program's argv[0] alone, as it always has.
	if len(os.Args) > 1 {
		os.Args = os.Args[:1]
	}
	becomeChild(h)
	SetMaxFrameSize(h.MaxFrame)
	// The parent is authenticated: from here on a large call may take as
	// long as it takes, and the parent's death still ends the read (EOF).
	_ = conn.SetReadDeadline(time.Time{})
	if h.Worker {
		observeChild(h.Name, "")
		return serveWorker(conn, rd)
	}

	f, err = wire.ReadPeerFrame(rd, maxFrameSize.Load())
	if err != nil || f.Kind != wire.KindCall {
		return childFail("no call from the parent: %v", describeFrameErr(f, err))
	}
	call, err := wire.DecodeCall(f.Body)
	if err == nil {
		if f.Files, err = rd.Take(call.NFiles()); err != nil {
			err = fmt.Errorf("call frame: %w", err)
		}
	}
	if err != nil {
		return childFail("%v", err)
	}
	spec := registry.ByName(call.Target)
	observeChild(h.Name, call.Target)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go watchParent(rd, cancel)
	terminated := proc.OnTerminate(cancel, spec != nil && spec.Context)

	kind, body := handleCall(ctx, f)
	// Values the target put in queues are delivered before it reports, as
	// Python's child joins its queues' feeder threads before exiting;
	// values it kept from batches go to the parent.
	flushQueues(conn)
	if err := wire.WriteFrames(conn, nil, kind, f.ID, body); err != nil {
		return childFail("send the outcome of %s: %v", call.Target, err)
	}
	if terminated.Load() {
		dieOfTerminate()
	}
	if kind == wire.KindResult {
		return exitOK
	}
	return exitFailed
}

// lookupCall finds the spec and codec a call names, or an error frame body
// that explains why it cannot run.
func lookupCall(target, codecName string) (*registry.Spec, Codec, []byte) {
	spec := registry.ByName(target)
	if spec == nil {
		return nil, nil, failureBody(fmt.Sprintf("mp: target %q is not registered in the child: was the binary replaced while the parent ran?", target))
	}
	codec, ok := lookupCodec(codecName)
	if !ok {
		return nil, nil, failureBody(fmt.Sprintf("mp: codec %q is not registered in the child", codecName))
	}
	return spec, codec, nil
}

func failureBody(msg string) []byte {
	return (&wire.ErrorMsg{Message: msg, Type: "*errors.errorString"}).Encode()
}

// runCall runs one call frame's target and encodes its outcome, one that
// fits the frame limit.
func runCall(ctx context.Context, call *wire.Call) (wire.Kind, wire.Payload) {
	kind, body := runCallFrame(ctx, call)
	return fitOutcome(call.Target, kind, body)
}

// fitOutcome returns the outcome frame of a call of target as it is, or,
// when it is over the frame limit (the parent's: a child has it from the
// handshake), an error frame that says so instead of a frame the parent
// would refuse: the call fails with an error that matches ErrTooLarge, and
// a pool worker lives on.
func fitOutcome(target string, kind wire.Kind, body wire.Payload) (wire.Kind, wire.Payload) {
	n, limit, over := frameOver(body.Size())
	if !over {
		return kind, body
	}
	err := errTooLarge(fmt.Sprintf("the %v of %s", kind, target), n, limit)
	return wire.KindError, wire.Payload{describeError(Gob, err).Encode()}
}

// runCallFrame is runCall before the outcome's size is checked.
func runCallFrame(ctx context.Context, call *wire.Call) (wire.Kind, wire.Payload) {
	defer func() { closeFiles(argFiles(call.Args)) }() // descriptors no handle took
	spec, codec, fail := lookupCall(call.Target, call.Codec)
	if fail != nil {
		return wire.KindError, wire.Payload{fail}
	}
	res, kind, body := invoke(ctx, spec, codec, &wireArgs{codec: codec, args: call.Args})
	if kind != wire.KindResult {
		return kind, wire.Payload{body}
	}
	var ev wire.Value
	if spec.Result != nil && res != nil {
		var err error
		if ev, err = encodeValue(codec, reflect.ValueOf(res)); err != nil {
			return wire.KindError, wire.Payload{failureBody(fmt.Sprintf("mp: encode the result of %s with the %s codec: %v", spec.Name, codec.Name(), err))}
		}
	}
	return wire.KindResult, wire.ResultPayload(ev)
}

func describeFrameErr(f wire.Frame, err error) string {
	if err != nil {
		return err.Error()
	}
	return "unexpected " + f.Kind.String() + " frame"
}

// watchParent reads the control channel for the child's whole life. A
// cancel frame cancels the call's context; end of file means the parent is
// gone, and a child never outlives its parent.
func watchParent(conn io.Reader, cancel context.CancelFunc) {
	for {
		f, err := wire.ReadFrame(conn, 1<<20)
		if err != nil {
			cancel()
			exitChild(exitFailed)
		}
		switch f.Kind {
		case wire.KindCancel:
			cancel()
		case wire.KindTerminate: // where the parent has no SIGTERM to send
			proc.RequestTerminate()
		}
	}
}

// invoke runs the target on args. On success it returns the result and
// wire.KindResult; on an error or a panic, the frame kind and body to send.
func invoke(ctx context.Context, spec *registry.Spec, codec Codec, args registry.Args) (res any, kind wire.Kind, body []byte) {
	defer func() {
		if r := recover(); r != nil {
			res = nil
			kind, body = failureFrame(codec, nil, registry.Recovered(r))
		}
	}()
	res, err := spec.Call(ctx, args)
	if err != nil {
		kind, body = failureFrame(codec, err, nil)
		return nil, kind, body
	}
	return res, wire.KindResult, nil
}

// failureFrame encodes a target's error, or its panic when p is not nil.
func failureFrame(codec Codec, err error, p *registry.Panic) (wire.Kind, []byte) {
	if p != nil {
		return wire.KindPanic, (&wire.PanicMsg{Value: p.Value, Type: p.Type, Stack: p.Stack}).Encode()
	}
	return wire.KindError, describeError(codec, err).Encode()
}
