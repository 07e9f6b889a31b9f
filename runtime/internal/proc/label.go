package proc

import (
	"bytes"
	"io"
	"os"
	"reflect"
	"strconv"
	"sync"
)

// PrefixMode says whether and how the lines a child writes are labelled
// with its name and pid.
type PrefixMode int

// The prefix modes.
const (
	// PrefixNone passes output through as written.
	PrefixNone PrefixMode = iota
	// PrefixLines starts every line with "name[pid] | ".
	PrefixLines
	// PrefixKeepJSON is PrefixLines except that a line whose first byte
	// is '{' (a JSON log record, which carries its own attribution) passes
	// untouched, so that log collectors still parse it.
	PrefixKeepJSON
)

// MaxLine is the longest line a labelled output writes in one piece. A
// longer line is split: its first piece carries the usual "name[pid] | ",
// each further piece "name[pid] + ", which marks it as the continuation of
// the line before.
const MaxLine = 64 << 10

// Labeled, given to Spawn as a child's stdout or stderr, labels every line
// the child writes there with Name and the child's pid (see PrefixMode).
// Lines are written whole, each with one Write, under a lock that all the
// labelled outputs of this process share: lines of different children
// (and of a child's stdout and stderr) never interleave, whatever writer
// they share. A last line without a newline gets one when the child's end
// of the pipe closes.
type Labeled struct {
	W    io.Writer // nil: this process's own stdout or stderr
	Name string
	Mode PrefixMode
}

// Write writes p to W unlabelled: Spawn labels what the child writes, and
// nothing else should write to a Labeled.
func (l *Labeled) Write(p []byte) (int, error) { return l.W.Write(p) }

// dests holds a lock per destination of labelled lines, while some child
// writes to it: the lines of all children to one writer never interleave,
// and a writer that blocks holds up only the children that write to it.
var dests struct {
	sync.Mutex
	m map[any]*destLock
}

type destLock struct {
	sync.Mutex
	refs int
}

// destKey is the key of w in dests: a file by its descriptor (os.Stdout and
// another *os.File of descriptor 1 are one destination), another writer by
// itself when it can be a key, else one key for all such writers.
func destKey(w io.Writer) any {
	if f, ok := w.(*os.File); ok {
		return f.Fd()
	}
	if reflect.TypeOf(w).Comparable() {
		return w
	}
	return reflect.TypeOf(w)
}

// lockDest takes a reference to the lock of w's destination.
func lockDest(w io.Writer) (*destLock, any) {
	key := destKey(w)
	dests.Lock()
	defer dests.Unlock()
	if dests.m == nil {
		dests.m = map[any]*destLock{}
	}
	d := dests.m[key]
	if d == nil {
		d = &destLock{}
		dests.m[key] = d
	}
	d.refs++
	return d, key
}

// unlockDest gives back a reference lockDest took.
func unlockDest(key any) {
	dests.Lock()
	defer dests.Unlock()
	if d := dests.m[key]; d != nil {
		if d.refs--; d.refs == 0 {
			delete(dests.m, key)
		}
	}
}

// labeler cuts a child's output into lines and writes each with its label.
type labeler struct {
	dst          io.Writer
	lock         *destLock // dst's
	key          any       // dst's in dests
	mode         PrefixMode
	prefix, cont []byte // "name[pid] | " and "name[pid] + "
	buf          []byte // the current line so far
	split        bool   // a piece of the current line was written
	out          []byte // the line being written, label and all
}

func newLabeler(dst io.Writer, l *Labeled, pid int) *labeler {
	head := l.Name + "[" + strconv.Itoa(pid) + "] "
	lock, key := lockDest(dst)
	return &labeler{dst: dst, lock: lock, key: key, mode: l.Mode, prefix: []byte(head + "| "), cont: []byte(head + "+ ")}
}

// write takes the next bytes of the output and writes the lines they end.
func (l *labeler) write(p []byte) error {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.buf = append(l.buf, p...)
			return l.pieces(false)
		}
		var err error
		if len(l.buf) == 0 {
			err = l.line(p[:i])
		} else {
			l.buf = append(l.buf, p[:i]...)
			err = l.pieces(true)
		}
		if err != nil {
			return err
		}
		p = p[i+1:]
	}
	return nil
}

// line writes a whole line that arrived in one read.
func (l *labeler) line(s []byte) error {
	for len(s) > MaxLine {
		if err := l.emit(s[:MaxLine]); err != nil {
			return err
		}
		s = s[MaxLine:]
	}
	err := l.emit(s)
	l.split = false
	return err
}

// pieces writes the buffered line's full pieces, and its rest too when
// the line has ended.
func (l *labeler) pieces(ended bool) error {
	n := 0
	for len(l.buf)-n > MaxLine {
		if err := l.emit(l.buf[n : n+MaxLine]); err != nil {
			return err
		}
		n += MaxLine
	}
	if ended {
		err := l.emit(l.buf[n:])
		l.buf, l.split = l.buf[:0], false
		return err
	}
	l.buf = l.buf[:copy(l.buf, l.buf[n:])]
	return nil
}

// emit writes one piece of a line, labelled, with a newline.
func (l *labeler) emit(s []byte) error {
	switch {
	case l.split:
		l.out = append(append(l.out[:0], l.cont...), s...)
	case l.mode == PrefixKeepJSON && len(s) > 0 && s[0] == '{':
		l.out = append(l.out[:0], s...)
	default:
		l.out = append(append(l.out[:0], l.prefix...), s...)
	}
	l.out = append(l.out, '\n')
	l.split = true
	l.lock.Lock()
	_, err := l.dst.Write(l.out)
	l.lock.Unlock()
	return err
}

// close gives back the labeler's reference to its destination's lock.
func (l *labeler) close() { unlockDest(l.key) }

// flush writes the last line when it had no newline.
func (l *labeler) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	return l.pieces(true)
}
