package run

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/inventory"
)

// hostNames returns n host names, h000, h001…
func hostNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("h%03d", i)
	}
	return names
}

const forksPlaybook = `
play "p" {
  hosts = ["all"]
  command "x" { run = "true" }
}
`

// A run's memory is bounded by --forks, not by the fleet: the hosts waiting
// for their turn hold no goroutine (each one's stack would cost about
// 8 KiB, 80 MiB for 10,000 hosts).
func TestGoroutinesBoundedByForks(t *testing.T) {
	const hosts, forks = 300, 3
	r, _ := setup(t, hostNames(hosts), forksPlaybook, ModeApply)
	r.opts.Forks = forks
	base := runtime.NumGoroutine()
	var mu sync.Mutex
	most, dials := 0, 0
	r.opts.Dial = func(ctx context.Context, h *inventory.Host) (executor.Conn, error) {
		n := runtime.NumGoroutine()
		mu.Lock()
		most, dials = max(most, n), dials+1
		mu.Unlock()
		return nil, fmt.Errorf("%s: connect: refused: %w", h.Name, executor.ErrUnreachable)
	}
	res := r.Execute(context.Background())
	if dials != hosts || len(res.Recaps) != hosts {
		t.Fatalf("%d dials, %d recaps, want %d", dials, len(res.Recaps), hosts)
	}
	// forks host goroutines, and some slack for the runtime's own.
	if limit := base + forks + 10; most > limit {
		t.Errorf("%d goroutines while %d hosts ran %d at a time (%d before the run), want at most %d", most, hosts, forks, base, limit)
	}
}

// Cancelling the run while the first hosts run starts no other host: each
// reports that it was not started, and every host has its recap.
func TestInterruptedWhileRunningLeavesTheRestNotStarted(t *testing.T) {
	const hosts = 20
	r, rec := setup(t, hostNames(hosts), forksPlaybook, ModeApply)
	r.opts.Forks = 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	dialed := 0
	r.opts.Dial = func(dctx context.Context, h *inventory.Host) (executor.Conn, error) {
		mu.Lock()
		dialed++
		mu.Unlock()
		cancel()
		return nil, fmt.Errorf("%s: connect: %w", h.Name, context.Canceled)
	}
	res := r.Execute(ctx)
	if dialed == 0 || dialed > 2 {
		t.Errorf("%d hosts dialed, want 1 or 2 (the forks held when the run was cancelled)", dialed)
	}
	notStarted := 0
	for i, h := range res.Recaps {
		if h.Host != fmt.Sprintf("h%03d", i) || h.Failed == 0 && !h.Unreachable {
			t.Errorf("recap %d: %+v", i, h)
		}
		if h.Interrupted && h.Error == "not started: the run was interrupted" {
			notStarted++
		}
	}
	if notStarted != hosts-dialed {
		t.Errorf("%d hosts not started, want %d", notStarted, hosts-dialed)
	}
	done := 0
	for _, e := range rec.events {
		if e.Type == report.EventHostDone {
			done++
		}
	}
	if done != hosts {
		t.Errorf("%d host-done events, want %d", done, hosts)
	}
}
