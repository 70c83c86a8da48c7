package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

// HostState is what the benchmark checks on a host between runs.
type HostState struct {
	// Values are the scenario's checked facts by name: a file's owner,
	// mode and digest (fileState), a live kernel value, a package's status.
	Values map[string]string
	// Active is `systemctl is-active` of the scenario's service.
	Active string
	// Marker changes whenever a run restarts (or, for sshd, reloads) the
	// scenario's service: it tells whether a run did.
	Marker string
}

// stateBegin starts the state lines in a script's output, so that what
// runs before the state script (a reset) may print too.
const stateBegin = "--- tend-bench state"

// stateCommand is the scenario's state script, after its start line.
func stateCommand(sc scenario) string {
	return "echo '" + stateBegin + "'\n" + sc.stateScript()
}

// parseState reads the "KEY VALUE" lines after the last stateBegin line
// of out. Every key appears once; "active" and "marker" are required.
func parseState(out string) (HostState, error) {
	i := strings.LastIndex(out, stateBegin+"\n")
	if i < 0 {
		return HostState{}, fmt.Errorf("no state in the output %q", out)
	}
	st := HostState{Values: map[string]string{}}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimRight(out[i+len(stateBegin)+1:], "\n"), "\n") {
		k, v, _ := strings.Cut(l, " ")
		if k == "" || seen[k] {
			return HostState{}, fmt.Errorf("unexpected state line %q in %q", l, out)
		}
		seen[k] = true
		switch k {
		case "active":
			st.Active = v
		case "marker":
			st.Marker = v
		default:
			st.Values[k] = v
		}
	}
	if !seen["active"] || !seen["marker"] {
		return HostState{}, fmt.Errorf("the state output lacks active or marker: %q", out)
	}
	return st, nil
}

// sha256Hex is the hex SHA-256 of b.
func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// forHosts runs fn for every host in parallel, bounded by limit, and joins
// the errors (each naming its host).
func forHosts(ctx context.Context, hosts []*fleet.Host, limit time.Duration, fn func(ctx context.Context, i int, h *fleet.Host) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx, i, h); err != nil {
				errs[i] = fmt.Errorf("%s (%s): %w", h.Name, h.Address, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sshRetries bounds sshRoot's attempts, sshRetryDelay spaces them.
const (
	sshRetries    = 40
	sshRetryDelay = 250 * time.Millisecond
)

// sshRoot runs command on h as root over SSH. A failure to connect (ssh's
// exit status 255) is retried, bounded: a run that ends with sshd's reload
// can leave sshd re-executing itself, refusing connections for a moment,
// when the driver checks the host right after. Only idempotent commands
// (state reads, resets) go through it.
func sshRoot(ctx context.Context, h *fleet.Host, command string) (string, error) {
	for i := 1; ; i++ {
		out, err := h.SSH(ctx, "root", command)
		var ee *exec.ExitError
		if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 255 || i == sshRetries {
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, err
		case <-time.After(sshRetryDelay):
		}
	}
}

// States reads every host's HostState, as root over SSH.
func States(ctx context.Context, sc scenario, hosts []*fleet.Host) ([]HostState, error) {
	out := make([]HostState, len(hosts))
	err := forHosts(ctx, hosts, 30*time.Second, func(ctx context.Context, i int, h *fleet.Host) error {
		o, err := sshRoot(ctx, h, stateCommand(sc))
		if err != nil {
			return err
		}
		out[i], err = parseState(o)
		return err
	})
	return out, err
}

// Reset puts every host back into the scenario's pristine state (as root
// over SSH, the hosts in parallel) and returns their states; it fails
// unless every host is pristine and its service active.
func Reset(ctx context.Context, sc scenario, hosts []*fleet.Host) ([]HostState, error) {
	out := make([]HostState, len(hosts))
	err := forHosts(ctx, hosts, 2*time.Minute, func(ctx context.Context, i int, h *fleet.Host) error {
		o, err := sshRoot(ctx, h, sc.resetScript(i)+"\n"+stateCommand(sc))
		if err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		st, err := parseState(o)
		if err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		if err := diffValues(sc.pristine(i), st.Values); err != nil {
			return fmt.Errorf("reset did not restore the pre-hardening state: %w", err)
		}
		if st.Active != "active" {
			return fmt.Errorf("reset: the service is %q, not active", st.Active)
		}
		out[i] = st
		return nil
	})
	return out, err
}

// diffValues describes every value of got that is not the one in want, and
// every value want has and got lacks, in key order.
func diffValues(want, got map[string]string) error {
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var errs []error
	for _, k := range keys {
		w, okW := want[k]
		g, okG := got[k]
		switch {
		case !okG:
			errs = append(errs, fmt.Errorf("%s: not in the state", k))
		case !okW:
			errs = append(errs, fmt.Errorf("%s: unexpected in the state (%q)", k, g))
		case g != w:
			errs = append(errs, fmt.Errorf("%s is %q, want %q", k, g, w))
		}
	}
	return errors.Join(errs...)
}

// checkStates checks the hosts' states after a run of tool: a cold run
// (converge) must leave the scenario's hardened state for tool and change
// every host's marker (the service restarted or reloaded); a no-op run
// must leave every value and marker as before it. The service must be
// active either way.
func checkStates(sc scenario, hosts []*fleet.Host, tool string, cold bool, before, after []HostState) error {
	var errs []error
	for i, st := range after {
		h := hosts[i]
		want := before[i].Values
		if cold {
			want = sc.want(i, tool)
		}
		if err := diffValues(want, st.Values); err != nil {
			what := "after a converge"
			if !cold {
				what = "changed by a no-op run"
			}
			errs = append(errs, fmt.Errorf("%s: %s: %w", h.Name, what, err))
		}
		switch {
		case st.Active != "active":
			errs = append(errs, fmt.Errorf("%s: the service is %q, not active", h.Name, st.Active))
		case cold && st.Marker == before[i].Marker:
			errs = append(errs, fmt.Errorf("%s: the service was not restarted or reloaded (marker %s unchanged)", h.Name, st.Marker))
		case !cold && st.Marker != before[i].Marker:
			errs = append(errs, fmt.Errorf("%s: the service was restarted or reloaded by a no-op run (marker %s -> %s)", h.Name, before[i].Marker, st.Marker))
		}
	}
	return errors.Join(errs...)
}
