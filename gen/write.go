package gen

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// Commit makes the file at r.OutputPath what r says: it writes r.Content
// there, only if the file on disk differs, so that an unchanged package
// keeps its modification time and the build cache stays warm; when Content
// is nil, it removes the file if mpgen wrote it. It reports whether it
// changed the file system. Commit refuses to run for a result with errors,
// and to overwrite a file that mpgen did not write.
func (r Result) Commit() (changed bool, err error) {
	if len(r.Errs) > 0 {
		return false, fmt.Errorf("not writing %s: package %s has errors", r.OutputPath, r.PkgPath)
	}
	act, err := r.plan()
	switch {
	case err != nil:
		return false, err
	case act == remove:
		if err := os.Remove(r.OutputPath); err != nil {
			return false, fmt.Errorf("removing the previous output: %w", err)
		}
	case act == write:
		if err := writeAtomic(r.OutputPath, r.Content); err != nil {
			return false, fmt.Errorf("writing the output: %w", err)
		}
	}
	return act != keep, nil
}

// Stale reports whether Commit would change the file system: the file at
// r.OutputPath differs from r.Content, or is an earlier output of mpgen that
// Commit would remove.
func (r Result) Stale() (bool, error) {
	if len(r.Errs) > 0 {
		return false, fmt.Errorf("cannot tell whether %s is up to date: package %s has errors", r.OutputPath, r.PkgPath)
	}
	act, err := r.plan()
	return act != keep, err
}

// An action is what Commit does with the file of a result.
type action int

const (
	keep   action = iota // the file is what it should be
	write                // write Content
	remove               // remove mpgen's earlier output
)

// plan decides what Commit does, from the file on disk; Commit and Stale
// share it, so that -check says exactly what a run would do.
func (r Result) plan() (action, error) {
	old, err := os.ReadFile(r.OutputPath)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return keep, fmt.Errorf("reading the previous output: %w", err)
	}
	switch {
	case r.Content == nil && exists && hasHeader(old):
		return remove, nil
	case r.Content == nil:
		return keep, nil
	case exists && !hasHeader(old):
		return keep, fmt.Errorf("not overwriting %s: mpgen did not write it (its first line is not %q); rename it, or pass another -output", r.OutputPath, header)
	case exists && bytes.Equal(old, r.Content):
		return keep, nil
	}
	return write, nil
}

// writeAtomic replaces path with content so that a failure half-way (a
// full disk, a quota) leaves the previous file whole: it writes a hidden
// temporary file in the same directory (the go command ignores names that
// start with "."), then renames it over path. A new file gets the mode that
// os.WriteFile would give it, 0666 less the umask; a file replaced keeps its
// mode.
func writeAtomic(path string, content []byte) error {
	var keepMode fs.FileMode
	if info, err := os.Stat(path); err == nil {
		keepMode = info.Mode().Perm()
	}
	f, err := createTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(content)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	if keepMode != 0 {
		if err := os.Chmod(tmp, keepMode); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// createTemp creates a new file named prefix, a random number and ".tmp" in
// dir, with the mode 0666 less the umask. (os.CreateTemp makes 0600 files,
// and chmod ignores the umask: neither gives the mode a new file should
// have.)
func createTemp(dir, prefix string) (*os.File, error) {
	for {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}
