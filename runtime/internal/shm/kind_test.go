package shm

import "testing"

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindLock: "Lock", KindBarrier: "Barrier", KindSharedMemory: "SharedMemory", KindQueue: "Queue", 0: "kind 0", 99: "kind 99"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint32(k), got, want)
		}
	}
}
