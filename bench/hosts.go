package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

// unitPath is the unit both tools manage.
const unitPath = "/etc/systemd/system/staffrota.service"

// HostState is what the benchmark checks on a host between runs.
type HostState struct {
	// SHA256 is the hex digest of the unit file.
	SHA256 string
	// Active is `systemctl is-active staffrota.service`.
	Active string
	// Invocation is the unit's InvocationID, which changes on every start:
	// it tells whether a run restarted the service.
	Invocation string
}

// stateScript prints the three lines of a HostState.
const stateScript = `sha256sum < ` + unitPath + ` | cut -d" " -f1
systemctl is-active staffrota.service || true
systemctl show -p InvocationID --value staffrota.service`

// healthScript waits, bounded to 100 tries 0.1 s apart, until the app
// answers GET /health/ with 200 on its unix socket. It holds no single
// quotes, so it fits in sh's '...'.
const healthScript = `import socket, sys, time
for i in range(100):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect("` + fleet.AppSocket + `")
        s.sendall(b"GET /health/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
        d = b""
        while True:
            c = s.recv(4096)
            if not c:
                break
            d += c
        s.close()
        if d.split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"]:
            sys.exit(0)
    except (OSError, IndexError):
        pass
    time.sleep(0.1)
sys.exit("no 200 from /health/ after 100 tries")`

// parseState reads stateScript's output.
func parseState(out string) (HostState, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 {
		return HostState{}, fmt.Errorf("unexpected state output %q", out)
	}
	n := len(lines)
	return HostState{SHA256: strings.TrimSpace(lines[n-3]), Active: strings.TrimSpace(lines[n-2]), Invocation: strings.TrimSpace(lines[n-1])}, nil
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

// States reads every host's HostState, as root over SSH.
func States(ctx context.Context, hosts []*fleet.Host) ([]HostState, error) {
	out := make([]HostState, len(hosts))
	err := forHosts(ctx, hosts, 30*time.Second, func(ctx context.Context, i int, h *fleet.Host) error {
		o, err := h.SSH(ctx, "root", stateScript)
		if err != nil {
			return err
		}
		out[i], err = parseState(o)
		return err
	})
	return out, err
}

// Reset puts every host back into the pre-hardening state: it writes the
// original unit over the hardened one (as root over SSH), reloads systemd,
// kills the running gunicorn outright, clears the unit's failed state and
// start-rate counter (every round restarts the service twice, which a unit
// with a start limit such as the report's 3 starts in 60 s would soon
// refuse), starts the service again and waits, bounded, until /health/
// answers 200. It returns the hosts' states and fails unless every host runs the
// original unit.
//
// The kill is deliberate: with Type=notify, gunicorn 20 reports ready
// before its workers have booted, and a worker that is sent SIGTERM while
// still booting ignores it, so a graceful stop shortly after a start can
// hang for the whole graceful timeout (30 s). The reset is not timed; the
// health wait (the original unit runs one worker, which must answer) makes
// sure the tool's own restart never meets a booting worker.
func Reset(ctx context.Context, hosts []*fleet.Host, original []byte) ([]HostState, error) {
	want := sha256Hex(original)
	script := fmt.Sprintf(`set -e
u=%s
echo %s | base64 -d > "$u.bench-reset"
chown root:root "$u.bench-reset"
chmod 0644 "$u.bench-reset"
mv -f "$u.bench-reset" "$u"
systemctl daemon-reload
systemctl kill --signal=SIGKILL staffrota.service 2>/dev/null || true
systemctl reset-failed staffrota.service 2>/dev/null || true
systemctl restart staffrota.service
python3 -c '%s'
%s`, unitPath, base64.StdEncoding.EncodeToString(original), healthScript, stateScript)
	out := make([]HostState, len(hosts))
	err := forHosts(ctx, hosts, 60*time.Second, func(ctx context.Context, i int, h *fleet.Host) error {
		o, err := h.SSH(ctx, "root", script)
		if err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		st, err := parseState(o)
		if err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		if st.SHA256 != want || st.Active != "active" {
			return fmt.Errorf("reset: unit sha256 %s (want the original %s), service %s", st.SHA256, want, st.Active)
		}
		out[i] = st
		return nil
	})
	return out, err
}

// CheckHardened verifies that every host runs the hardened unit (sha256
// want) and an active service, and whether the run restarted it: restarted
// true demands a new InvocationID, false the one in before.
func CheckHardened(ctx context.Context, hosts []*fleet.Host, want string, before []HostState, restarted bool) ([]HostState, error) {
	states, err := States(ctx, hosts)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i, st := range states {
		h := hosts[i]
		switch {
		case st.SHA256 != want:
			errs = append(errs, fmt.Errorf("%s: unit sha256 is %s, not the hardened unit's %s", h.Name, st.SHA256, want))
		case st.Active != "active":
			errs = append(errs, fmt.Errorf("%s: staffrota.service is %q, not active", h.Name, st.Active))
		case before != nil && restarted && st.Invocation == before[i].Invocation:
			errs = append(errs, fmt.Errorf("%s: staffrota.service was not restarted (InvocationID %s unchanged)", h.Name, st.Invocation))
		case before != nil && !restarted && st.Invocation != before[i].Invocation:
			errs = append(errs, fmt.Errorf("%s: staffrota.service was restarted by a no-op run (InvocationID %s -> %s)", h.Name, before[i].Invocation, st.Invocation))
		}
	}
	return states, errors.Join(errs...)
}
