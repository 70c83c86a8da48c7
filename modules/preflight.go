package modules

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/tend-sh/tend/executor"
)

// preflight is what a unit needs from the host before it can start: its
// user and group, its working directory, its program, the directories of
// its unix sockets writable by its user. It is read in the state read,
// as one guard whose exit status names the first missing piece, so that
// plan reports it per host before apply changes anything.
type preflight struct {
	checks []preflightCheck
}

type preflightCheck struct {
	script string
	why    string
}

// add appends a check: script must succeed, or the unit fails with why.
func (p *preflight) add(script, why string) {
	p.checks = append(p.checks, preflightCheck{script, why})
}

// unitNeeds builds the preflight of a unit that runs program in dir as
// user:group and listens on the unix sockets socks. The directory, the
// program and the sockets' directories are tried as the unit's user (its
// group and supplementary groups), as systemd will start it; as root
// (test -x is true for root) they would pass where the unit fails.
func unitNeeds(user, group, dir, program string, socks []string) *preflight {
	p := &preflight{}
	q := executor.ShellQuote
	if user != "" {
		p.add("getent passwd -- "+q(user)+" >/dev/null", fmt.Sprintf("User=%s does not exist on the host", user))
	}
	if group != "" {
		p.add("getent group -- "+q(group)+" >/dev/null", fmt.Sprintf("Group=%s does not exist on the host", group))
	}
	who := user
	if who == "" {
		who = "root"
	}
	// asUser runs test as the unit's user, when tend is root (another
	// login cannot change user; it tries as itself).
	asUser := func(test string) string {
		if user == "" || user == "root" || user == "0" {
			return test
		}
		gid := q(group)
		if group == "" {
			gid = `"$(id -g -- ` + q(user) + `)"`
		}
		return `if [ "$(id -u)" = 0 ]; then setpriv --reuid=` + q(user) + ` --regid=` + gid + ` --init-groups -- /bin/sh -c ` + q(test) + `; else ` + test + `; fi`
	}
	if dir != "" {
		p.add(asUser("test -d "+q(dir)+" && test -x "+q(dir)), fmt.Sprintf("WorkingDirectory=%s does not exist on the host, or %s cannot enter it", dir, who))
	}
	if program != "" {
		p.add(asUser("test -f "+q(program)+" && test -x "+q(program)), fmt.Sprintf("the program %s does not exist or %s cannot run it", program, who))
	}
	for _, s := range socks {
		d := path.Dir(s)
		p.add(asUser("test -d "+q(d)+" && test -w "+q(d)+" && test -x "+q(d)), fmt.Sprintf("%s cannot create its socket %s: the directory %s does not exist or %s cannot write it", who, s, d, who))
	}
	return p
}

// PreflightError says what a unit needs from the host and lacks. Diff is
// what Check found all the same: a plan in which an earlier task of the
// host changes something (and may make what is missing) shows it, with
// the finding as a note; apply checks again after those changes.
type PreflightError struct {
	Diff *Diff
	Unit string
	Why  string
}

func (e *PreflightError) Error() string {
	if e.Unit == "" {
		return "preflight: " + e.Why
	}
	return e.Unit + ": preflight: " + e.Why
}

// script is the guard: exit 0 when every check passes, else 10 + the
// index of the first that failed.
func (p *preflight) script() string {
	var b strings.Builder
	for i, c := range p.checks {
		fmt.Fprintf(&b, "{ %s; } 2>/dev/null || exit %d\n", c.script, 10+i)
	}
	b.WriteString("exit 0\n")
	return b.String()
}

// probe returns the guard probe (nil: nothing to check).
func (p *preflight) probe() []executor.Probe {
	if p == nil || len(p.checks) == 0 {
		return nil
	}
	return []executor.Probe{{Kind: executor.ProbeGuard, Script: p.script(), Become: true}}
}

// check returns why the unit cannot start on the host, or nil. A guard
// that was not read (a plan of a host whose state read failed) is no
// finding.
func (p *preflight) check(st *executor.State) error {
	if p == nil || len(p.checks) == 0 {
		return nil
	}
	code, ok := st.Guard(p.script())
	if !ok || code == 0 {
		return nil
	}
	if i := code - 10; i >= 0 && i < len(p.checks) {
		return &PreflightError{Why: p.checks[i].why}
	}
	return &PreflightError{Why: fmt.Sprintf("the checks of what the unit needs failed on the host (exit status %d)", code)}
}

// unitFileNeeds builds the preflight of a unit from its file: the [Service]
// section's User=, Group=, WorkingDirectory= and the program of the first
// ExecStart= (the last assignment wins, as in systemd). Values with
// specifiers (%h…), relative programs (looked up in systemd's PATH), a
// WorkingDirectory= that may be missing ("-" prefix) and units with
// DynamicUser= are not checked.
func unitFileNeeds(content []byte) *preflight {
	var user, group, dir, program string
	dynamic, rooted, madeAtStart := false, false, false
	section := ""
	for _, raw := range strings.Split(string(content), "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line
			continue
		}
		if section != "[Service]" || line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if strings.Contains(v, "%") || strings.HasSuffix(v, "\\") {
			continue
		}
		switch k {
		case "User":
			user = v
		case "Group":
			group = v
		case "DynamicUser":
			dynamic = v == "yes" || v == "true" || v == "1" || v == "on"
		case "RootDirectory", "RootImage":
			// Paths are the new root's.
			rooted = true
		case "StateDirectory", "RuntimeDirectory", "CacheDirectory", "LogsDirectory", "ConfigurationDirectory":
			// systemd makes these at start: the working directory may be one.
			madeAtStart = true
		case "WorkingDirectory":
			dir = ""
			if strings.HasPrefix(v, "/") {
				dir = v
			}
		case "ExecStart":
			if program != "" || v == "" {
				continue
			}
			p := strings.TrimLeft(v, "@-:+!")
			if f := strings.Fields(p); len(f) > 0 && strings.HasPrefix(f[0], "/") {
				program = f[0]
			}
		}
	}
	if dynamic {
		user, group = "", ""
	}
	if rooted {
		dir, program = "", ""
	}
	if madeAtStart {
		dir = ""
	}
	return unitNeeds(user, group, dir, program, nil)
}

// preflightResult returns d, or, when the unit's preflight found something
// missing, d inside a *PreflightError (unit names the unit).
func preflightResult(unit string, p *preflight, t *Target, d *Diff) (*Diff, error) {
	err := p.check(t.State)
	var pe *PreflightError
	if errors.As(err, &pe) {
		pe.Diff, pe.Unit = d, unit
		return nil, pe
	}
	return d, err
}
