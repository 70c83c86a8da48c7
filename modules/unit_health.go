package modules

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tend-sh/tend/executor"
)

// UnitHealth is what UnitHealthFact read of a unit: its state, how often
// systemd restarted it, since when it is in its state, and how many
// processes its control group holds.
type UnitHealth struct {
	Unit string
	// LoadState is "loaded", "not-found", "masked"...
	LoadState   string
	ActiveState string
	SubState    string
	// NRestarts counts the restarts systemd made (Restart=) since the unit
	// was last started by hand or the host booted.
	NRestarts int
	// StateChange is when the unit last changed state, ActiveEnter when it
	// last became active; zero when never (or not told).
	StateChange time.Time
	ActiveEnter time.Time
	// ControlGroup is the unit's cgroup ("" when it runs nothing).
	ControlGroup string
	// Processes counts the processes in the control group; -1 when it has
	// none or it could not be read.
	Processes int
}

// CrashLooping reports whether systemd waits to restart the unit after its
// process died (SubState auto-restart).
func (u *UnitHealth) CrashLooping() bool { return u.SubState == "auto-restart" }

// UnitHealthFact reads one unit's UnitHealth in one systemctl show, and
// counts the processes of its control group (cgroup v2, or the v1 systemd
// hierarchy). It is read-only; any user may run it.
type UnitHealthFact struct{ Unit string }

var _ executor.Fact = UnitHealthFact{}

// unitHealthProps are the properties UnitHealthFact asks systemctl for.
const unitHealthProps = "-p LoadState -p ActiveState -p SubState -p NRestarts -p StateChangeTimestamp -p ActiveEnterTimestamp -p ControlGroup"

// Key implements executor.Fact.
func (f UnitHealthFact) Key() string { return "unit-health:" + f.Unit }

// Script implements executor.Fact: the timestamps as @seconds where
// systemctl knows --timestamp=unix (systemd 248 and later).
func (f UnitHealthFact) Script() string {
	u := executor.ShellQuote(f.Unit)
	return `out=$(systemctl show --timestamp=unix ` + unitHealthProps + ` -- ` + u + ` 2>/dev/null) ||
out=$(systemctl show ` + unitHealthProps + ` -- ` + u + `) || exit 3
printf '%s\n' "$out"
cg=$(printf '%s\n' "$out" | sed -n 's/^ControlGroup=//p')
if [ -n "$cg" ]; then
  for f in "/sys/fs/cgroup$cg/cgroup.procs" "/sys/fs/cgroup/systemd$cg/cgroup.procs"; do
    if [ -r "$f" ]; then printf 'Processes=%s\n' "$(wc -l < "$f")"; break; fi
  done
fi
`
}

// Parse implements executor.Fact.
func (f UnitHealthFact) Parse(out []byte, exitCode int) (any, error) {
	if exitCode != 0 {
		return nil, fmt.Errorf("systemctl show %s: exit status %d", f.Unit, exitCode)
	}
	u := &UnitHealth{Unit: f.Unit, Processes: -1}
	props, err := executor.ShowProperties(f.Unit, strings.Split(string(bytes.TrimSpace(out)), "\n"))
	if err != nil {
		return nil, err
	}
	for key, value := range props {
		var err error
		switch key {
		case "LoadState":
			u.LoadState = value
		case "ActiveState":
			u.ActiveState = value
		case "SubState":
			u.SubState = value
		case "NRestarts":
			if value != "" {
				u.NRestarts, err = strconv.Atoi(value)
			}
		case "StateChangeTimestamp":
			u.StateChange, err = parseSystemdTime(value)
		case "ActiveEnterTimestamp":
			u.ActiveEnter, err = parseSystemdTime(value)
		case "ControlGroup":
			u.ControlGroup = value
		case "Processes":
			u.Processes, err = strconv.Atoi(strings.TrimSpace(value))
		}
		if err != nil {
			return nil, fmt.Errorf("systemctl show %s: %q: %w", f.Unit, key+"="+value, err)
		}
	}
	if u.LoadState == "" || u.ActiveState == "" {
		return nil, fmt.Errorf("systemctl show %s: no LoadState or ActiveState", f.Unit)
	}
	return u, nil
}

// parseSystemdTime reads a systemctl timestamp: "" (never), "@1733040000"
// (--timestamp=unix), or "Tue 2026-12-01 06:30:00 UTC" (older systemd; a
// zone abbreviation other than UTC is taken at face value by time.Parse).
func parseSystemdTime(s string) (time.Time, error) {
	switch {
	case s == "" || s == "n/a":
		return time.Time{}, nil
	case strings.HasPrefix(s, "@"):
		sec, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Parse("Mon 2006-01-02 15:04:05 MST", s)
}
