package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// Memory bound of a run (see ARCHITECTURE, "One controller, many hosts").
const (
	// memFloor is the smallest soft memory limit tend sets: below it, the
	// Go runtime's own pacing (the heap may grow to twice the live data)
	// is left alone.
	memFloor = 256 << 20
	// memPerFork is what one host in flight holds at most, measured at
	// about 90 KiB (SSH buffers, its state read, its diffs), rounded up.
	memPerFork = 128 << 10
)

// memoryLimit is the soft memory limit for a run whose prepared hosts hold
// live bytes and that works on forks hosts at once: half as much again as
// what the run will hold at its peak — the prepared hosts plus a full set
// of hosts in flight — and never under memFloor. Go's default lets the
// heap reach twice the live data; for a 10,000-host run, whose prepared
// hosts are most of it, that is what took the peak RSS past 350 MiB.
func memoryLimit(live uint64, forks int) int64 {
	want := (live + uint64(forks)*memPerFork) * 3 / 2
	if want < memFloor {
		return memFloor
	}
	return int64(want)
}

// boundMemory sets the runtime's soft memory limit for the run prepared so
// far (memoryLimit), unless the user set GOMEMLIMIT, which wins. It forces
// one garbage collection to measure the live heap: a few milliseconds even
// for 10,000 hosts, once per run. The limit is soft: a run that needs more
// gets it, with the collector working harder (the runtime caps that at
// about half the CPU).
func boundMemory(forks int) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	debug.SetMemoryLimit(memoryLimit(sample[0].Value.Uint64(), forks))
}
