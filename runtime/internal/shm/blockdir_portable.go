//go:build unix && (mpgen_portable || !linux)

package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// The portable named blocks: what macOS and the BSDs run, and Linux with
// the build tag mpgen_portable. They are Linux's (block_unix.go, the same
// code): a file per block, held by a shared flock that the kernel drops
// when its holder ends, made under a temporary name and linked to its
// own, swept once nobody holds it. flock, link and O_NOFOLLOW are the same
// on macOS, FreeBSD and Linux.
//
// What differs is where the files are. macOS has no /dev/shm, and its
// shm_open names are reached only through libc and cannot be listed, so a
// sweep could not find the blocks of crashed processes. The blocks are
// files in BlockDir: a directory of this user's alone in the temporary
// directory, so processes share a block name only if they agree on
// os.TempDir() ($TMPDIR): children do, as they inherit the environment,
// but two programs started with different $TMPDIRs do not see each
// other's blocks. On macOS and on most Linux systems that directory is on
// the disk rather than in memory (tmpfs), which costs nothing more while
// the pages stay in the page cache.

// BlockDir returns the directory where named blocks live, making it if
// needed: os.TempDir()/mpgen-<uid>, mode 0700. It refuses a directory that
// another user could have made or could write to, or a symbolic link.
func BlockDir() (string, error) {
	uid := os.Getuid()
	dir := filepath.Join(os.TempDir(), "mpgen-"+strconv.Itoa(uid))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("mp: shared memory directory: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return "", fmt.Errorf("mp: shared memory directory: %w", &fs.PathError{Op: "lstat", Path: dir, Err: err})
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != uid || st.Mode&0o077 != 0 {
		return "", fmt.Errorf("mp: shared memory directory %s is not a directory of user %d's alone (mode %#o, owner %d): remove it", dir, uid, st.Mode, st.Uid)
	}
	return dir, nil
}
