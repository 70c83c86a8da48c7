package main

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name  string
		live  uint64
		forks int
		want  int64
	}{
		{"a small run keeps the floor", 4 * mib, 100, memFloor},
		{"10,000 hosts (about 115 MiB prepared) stay at the floor", 115 * mib, 100, memFloor},
		{"50,000 hosts: half as much again as the live data and the hosts in flight", 600 * mib, 100, (600*mib + 100*memPerFork) * 3 / 2},
		{"many forks count", 100 * mib, 5000, (100*mib + 5000*memPerFork) * 3 / 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := memoryLimit(tc.live, tc.forks); got != tc.want {
				t.Errorf("memoryLimit(%d MiB, %d) = %d MiB, want %d MiB", tc.live/mib, tc.forks, got/mib, tc.want/mib)
			}
		})
	}
}

func TestBoundMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	debug.SetMemoryLimit(math.MaxInt64)
	boundMemory(100)
	if got := debug.SetMemoryLimit(-1); got < memFloor || got == math.MaxInt64 {
		t.Errorf("after boundMemory the soft memory limit is %d, want at least %d", got, memFloor)
	}

	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(math.MaxInt64)
	boundMemory(100)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set, boundMemory changed the limit to %d", got)
	}
}
