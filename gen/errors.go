package gen

import (
	"cmp"
	"errors"
	"fmt"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Error is a problem with the input, found at a position in a source file.
// Every problem mpgen reports about user code is an *Error, so callers can
// tell them from failures of the go command, or filter them, with
// errors.As.
type Error struct {
	// Pos is where the problem is. Its Filename is absolute, or empty when
	// the problem has no position (a package that failed to load, say).
	Pos token.Position
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Error returns "file:line:col: msg", or msg alone when the problem has no
// position. The file name is absolute: the command shortens it for its
// working directory.
func (e *Error) Error() string {
	if e.Pos.Filename == "" {
		return e.Msg
	}
	return posString(e.Pos) + ": " + e.Msg
}

// errorf returns an *Error at pos.
func errorf(pos token.Position, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// posString formats pos as file:line:col, omitting what is unknown.
func posString(pos token.Position) string {
	s := pos.Filename
	if pos.Line > 0 {
		s += ":" + strconv.Itoa(pos.Line)
		if pos.Column > 0 {
			s += ":" + strconv.Itoa(pos.Column)
		}
	}
	return s
}

// parsePos parses a position as go/packages reports it ("file:line:col",
// "file:line", "file" or "-"). A relative file name is taken relative to dir.
func parsePos(s, dir string) token.Position {
	if s == "" || s == "-" {
		return token.Position{}
	}
	var nums []int
	for range 2 {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			break
		}
		n, err := strconv.Atoi(s[i+1:])
		if err != nil {
			break
		}
		nums = append([]int{n}, nums...)
		s = s[:i]
	}
	pos := token.Position{Filename: s}
	if !filepath.IsAbs(s) && dir != "" {
		pos.Filename = filepath.Join(dir, s)
	}
	if len(nums) > 0 {
		pos.Line = nums[0]
	}
	if len(nums) > 1 {
		pos.Column = nums[1]
	}
	return pos
}

// SortErrors sorts errs by position: errors without a position first, in
// their original order, then by file, line and column.
func sortErrors(errs []error) {
	slices.SortStableFunc(errs, func(a, b error) int {
		pa, pb := errorPos(a), errorPos(b)
		return cmp.Or(
			strings.Compare(pa.Filename, pb.Filename),
			cmp.Compare(pa.Line, pb.Line),
			cmp.Compare(pa.Column, pb.Column),
		)
	})
}

func errorPos(err error) token.Position {
	var e *Error
	if errors.As(err, &e) {
		return e.Pos
	}
	return token.Position{}
}
