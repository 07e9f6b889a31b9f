//go:build !unix && !windows

package shm

// ProcIDOf returns pid's identity without a start time: off Linux no
// segment is ever made, so no holder is ever judged.
func ProcIDOf(pid int) ProcID {
	if pid <= 0 {
		return 0
	}
	return MakeProcID(pid, 0)
}

// alive reports true: off Linux no lock can have a dead holder to detect.
func (id ProcID) alive() bool { return true }

// gone reports false: off Linux no lock can have a dead holder to detect.
func (id ProcID) gone() bool { return false }
