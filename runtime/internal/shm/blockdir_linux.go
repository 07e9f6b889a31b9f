//go:build linux && !mpgen_portable

package shm

// BlockDir returns the directory where named blocks live: Dir, /dev/shm.
// (The portable build keeps them in a directory of the user's own in the
// temporary directory; see blockdir_portable.go.)
func BlockDir() (string, error) { return Dir, nil }
