// Package rollout decides in which order and in which groups a run changes
// its hosts, and when it stops: a canary group first, alone, then batches
// of a fixed number or a share of the hosts, halting once more hosts failed
// than the policy tolerates. It knows nothing of SSH, modules or output.
package rollout

import (
	"fmt"
	"strconv"
	"strings"
)

// Size is a number of hosts, either absolute (N) or a share of the hosts
// of the run (Percent). The zero Size means "not set".
type Size struct {
	N       int
	Percent int
	// set distinguishes "0" from "not set".
	set bool
}

// Hosts returns the size for a run of total hosts. A share is rounded up
// and is at least one host (25% of 3 hosts is 1 host).
func (s Size) Hosts(total int) int {
	if !s.set {
		return 0
	}
	if s.Percent > 0 {
		n := (total*s.Percent + 99) / 100
		return max(n, 1)
	}
	return s.N
}

// IsSet reports whether the size was given.
func (s Size) IsSet() bool { return s.set }

// String renders the size as it is written: "3" or "25%".
func (s Size) String() string {
	if !s.set {
		return ""
	}
	if s.Percent > 0 {
		return strconv.Itoa(s.Percent) + "%"
	}
	return strconv.Itoa(s.N)
}

// Count returns an absolute size.
func Count(n int) Size { return Size{N: n, set: true} }

// ParseSize reads "N" (N ≥ 0) or "P%" (1 ≤ P ≤ 100).
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(t, "%"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 100 {
			return Size{}, fmt.Errorf("%q is not a share of hosts: write a whole percentage from 1%% to 100%%", s)
		}
		return Size{Percent: n, set: true}, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 {
		return Size{}, fmt.Errorf("%q is not a number of hosts: write a whole number like 2 or a share like \"25%%\"", s)
	}
	return Size{N: n, set: true}, nil
}

// Policy is how a run rolls a change out.
type Policy struct {
	// Canary hosts go first, alone; the rest start only if they all end
	// healthy. Zero: no canary group.
	Canary int
	// Batch is the size of each later group; not set: all the rest at once
	// (bounded by --forks).
	Batch Size
	// MaxFailures is how many hosts may fail (or be unreachable) before the
	// rollout halts; not set: a run without rollout settings never halts,
	// one with them tolerates none.
	MaxFailures Size
	// Revert puts back a host that fails after this run changed it.
	Revert bool
}

// Staged reports whether the policy changes hosts in groups (a canary or
// batches), as opposed to all at once.
func (p Policy) Staged() bool { return p.Canary > 0 || p.Batch.IsSet() }

// Groups splits n hosts (in inventory order) into the groups the rollout
// starts one after the other: the canary group, then batches.
func (p Policy) Groups(n int) [][]int {
	var groups [][]int
	i := 0
	take := func(k int) {
		k = min(k, n-i)
		if k <= 0 {
			return
		}
		g := make([]int, k)
		for j := range g {
			g[j] = i + j
		}
		groups = append(groups, g)
		i += k
	}
	if p.Canary > 0 {
		take(p.Canary)
	}
	step := p.Batch.Hosts(n)
	if step <= 0 {
		step = n
	}
	for i < n {
		take(step)
	}
	return groups
}

// Tolerated returns how many failed hosts of n the rollout accepts before
// it halts, or -1 for no limit.
func (p Policy) Tolerated(n int) int {
	if !p.MaxFailures.IsSet() {
		if p.Staged() {
			return 0
		}
		return -1
	}
	if p.MaxFailures.Percent > 0 {
		// A share tolerates that share of the hosts, rounded down.
		return n * p.MaxFailures.Percent / 100
	}
	return p.MaxFailures.N
}

// Halts reports whether failed hosts of n stop the rollout.
func (p Policy) Halts(failed, n int) bool {
	t := p.Tolerated(n)
	return t >= 0 && failed > t
}

// Describe says in a few words what the policy does, for the run's header.
func (p Policy) Describe(n int) string {
	var parts []string
	if p.Canary > 0 {
		parts = append(parts, fmt.Sprintf("canary %d", p.Canary))
	}
	if p.Batch.IsSet() {
		parts = append(parts, fmt.Sprintf("batches of %d", p.Batch.Hosts(n)))
	}
	switch t := p.Tolerated(n); {
	case t < 0:
		parts = append(parts, "no failure limit")
	case t == 0:
		parts = append(parts, "halt at the first failed host")
	default:
		parts = append(parts, fmt.Sprintf("halt after %d failed hosts", t+1))
	}
	if p.Revert {
		parts = append(parts, "revert failed hosts")
	} else {
		parts = append(parts, "no revert")
	}
	return strings.Join(parts, ", ")
}
