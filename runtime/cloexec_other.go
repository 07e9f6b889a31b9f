//go:build !linux

package mp

// closeOnExecAll is Linux-only for now; elsewhere descriptors made without
// close-on-exec by raw system calls may reach children.
func closeOnExecAll() {}
