package gen

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Commit writes r.Content to r.OutputPath, only if the file on disk differs,
// so that an unchanged package keeps its modification time and the build
// cache stays warm. When Content is nil, Commit removes the file at
// OutputPath if mpgen wrote it. Commit refuses to run for a result with
// errors, and to overwrite or remove a file that mpgen did not write.
func (r Result) Commit() error {
	if len(r.Errs) > 0 {
		return fmt.Errorf("not writing %s: package %s has errors", r.OutputPath, r.PkgPath)
	}
	old, err := os.ReadFile(r.OutputPath)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading the previous output: %w", err)
	}
	if r.Content == nil {
		if !exists || !hasHeader(old) {
			return nil
		}
		if err := os.Remove(r.OutputPath); err != nil {
			return fmt.Errorf("removing the previous output: %w", err)
		}
		return nil
	}
	if exists && !hasHeader(old) {
		return fmt.Errorf("not overwriting %s: mpgen did not write it (its first line is not %q); rename it, or pass another -output", r.OutputPath, header)
	}
	if bytes.Equal(old, r.Content) {
		return nil
	}
	if err := writeAtomic(r.OutputPath, r.Content); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}

// writeAtomic replaces path with content so that a failure half-way (a
// full disk, a quota) leaves the previous file whole: it writes a hidden
// temporary file in the same directory (the go command ignores names that
// start with "."), then renames it over path.
func writeAtomic(path string, content []byte) error {
	mode := fs.FileMode(0o666) // the umask applies
	if info, err := os.Stat(path); err == nil {
		mode = info.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
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
	if err := os.Chmod(tmp, mode); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Stale reports whether Commit would change the file system: the file at
// r.OutputPath differs from r.Content, or is an earlier output of mpgen that
// Commit would remove.
func (r Result) Stale() (bool, error) {
	if len(r.Errs) > 0 {
		return false, fmt.Errorf("cannot tell whether %s is up to date: package %s has errors", r.OutputPath, r.PkgPath)
	}
	old, err := os.ReadFile(r.OutputPath)
	if errors.Is(err, fs.ErrNotExist) {
		return r.Content != nil, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the previous output: %w", err)
	}
	if r.Content == nil {
		return hasHeader(old), nil
	}
	return !bytes.Equal(old, r.Content), nil
}
