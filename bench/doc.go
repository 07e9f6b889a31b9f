// Package bench holds mpgen's benchmarks: the cost of starting and joining
// a child process, set against the floor of re-executing the same binary;
// the Pool's throughput, per-call latency, large arguments, start-up and
// memory (pool_test.go), set against a raw socketpair and bare processes;
// the Pipe round trip, large messages and Queue throughput (sharing_test.go),
// set against a raw socketpair and a raw SOCK_SEQPACKET socketpair; the
// shared Array written by a child and summed by the parent, and the
// cross-process Lock (shm_test.go), set against the same work in one
// process and sync.Mutex; and (under python/) the peer scripts for
// Python's multiprocessing. Run
// them all, with a summary, with bench/run; see BENCHMARKS.md.
package bench
