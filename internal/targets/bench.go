package targets

// ByteLen returns len(data): the benchmarks send it a large argument and
// get a small result back, so the time measured is the argument's trip.
//
//mp:target
func ByteLen(data []byte) int { return len(data) }
