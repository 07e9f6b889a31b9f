package shm

import "fmt"

// Kind is the kind of shared object a segment holds, written in its header
// and in its export metadata, so that a descriptor of one kind is never
// mapped as another. (It has nothing to do with the kinds of the wire's
// frames.)
type Kind uint32

// The kinds of shared objects.
const (
	KindLock Kind = iota + 1
	KindRLock
	KindSemaphore
	KindEvent
	KindCondition
	KindBarrier
	KindValue
	KindArray
	KindSharedMemory
	KindQueue
)

// String returns the name of the user type of that kind, as in "Lock".
func (k Kind) String() string {
	switch k {
	case KindLock:
		return "Lock"
	case KindRLock:
		return "RLock"
	case KindSemaphore:
		return "Semaphore"
	case KindEvent:
		return "Event"
	case KindCondition:
		return "Condition"
	case KindBarrier:
		return "Barrier"
	case KindValue:
		return "Value"
	case KindArray:
		return "Array"
	case KindSharedMemory:
		return "SharedMemory"
	case KindQueue:
		return "Queue"
	}
	return fmt.Sprintf("kind %d", uint32(k))
}
