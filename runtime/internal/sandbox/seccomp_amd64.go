//go:build linux

package sandbox

import "golang.org/x/sys/unix"

const (
	archName  = "amd64"
	auditArch = unix.AUDIT_ARCH_X86_64
	x32Bit    = 0x40000000 // the x32 ABI's system calls: refused whole
)

var deniedArch = []uintptr{unix.SYS_IOPL, unix.SYS_IOPERM, unix.SYS_MODIFY_LDT, unix.SYS_USELIB}
