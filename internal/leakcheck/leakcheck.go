// Package leakcheck measures what byocp's tests check does not leak: live
// heap, goroutines and file descriptors, compared with a baseline taken
// before the work under test.
package leakcheck

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// LiveHeap is the heap still in use after garbage collection
// (runtime.MemStats.HeapAlloc after runtime.GC, run three times so that
// finalizers and sync.Pool victims are gone too).
func LiveHeap() uint64 {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Goroutines waits up to wait until at most baseline goroutines run, and
// fails t with every goroutine's stack if they never get there.
func Goroutines(t testing.TB, baseline int, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, baseline %d; stacks:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// OpenFDs counts the process's open file descriptors; it skips t where
// /proc/self/fd does not exist.
func OpenFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

// FDs waits up to wait until at most baseline file descriptors are open,
// and fails t if they never get there.
func FDs(t testing.TB, baseline int, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for OpenFDs(t) > baseline {
		if time.Now().After(deadline) {
			t.Fatalf("file descriptors: %d, baseline %d", OpenFDs(t), baseline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
