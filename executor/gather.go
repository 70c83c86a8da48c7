package executor

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// unitProperties are the properties Gather reads for each unit.
var unitProperties = []string{
	"LoadState", "ActiveState", "SubState", "UnitFileState", "MainPID",
	"NRestarts", "NeedDaemonReload", "FragmentPath",
}

// Gather reads the state all probes ask for, plus the host's facts, with
// one command: one round trip, whatever the number of probes. With become
// the whole batch runs through sudo once. Identical probes are read once.
//
// The batch is one POSIX sh script (fed on the command's stdin, so its size
// is not bounded by argv limits) that prints one framed section per probe;
// the parser is strict: output it does not understand is an error, never
// an empty state. A file the user cannot check (a directory on the way is
// not searchable) is an error too, never reported missing. Units are only read when systemd is PID 1; otherwise
// State.Units stays empty and Facts.Systemd is false.
func Gather(ctx context.Context, conn Conn, probes []Probe, become bool) (*State, error) {
	batch, err := newBatch(probes)
	if err != nil {
		return nil, fmt.Errorf("%s: gather: %w", conn.Host(), err)
	}
	batch.become = become
	res, err := conn.Run(ctx, Command{
		Script: "exec /bin/sh -s",
		Stdin:  strings.NewReader(batch.script()),
		Become: become,
	})
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("%s: gather: the state script failed (exit %d): %s", conn.Host(), res.ExitCode, trimOutput(res.Stderr))
	}
	st, err := batch.parse(string(res.Stdout))
	if denied := (*deniedError)(nil); errors.As(err, &denied) {
		return nil, fmt.Errorf("%s: gather: %w", conn.Host(), err)
	}
	if err != nil {
		msg := fmt.Sprintf("%s: gather: malformed state output: %v", conn.Host(), err)
		if len(res.Stderr) > 0 {
			msg += " (stderr: " + trimOutput(res.Stderr) + ")"
		}
		return nil, errors.New(msg)
	}
	return st, nil
}

// batch is a deduplicated list of probes.
type batch struct {
	probes []Probe // files and guards, in first-seen order
	units  []string
	// become says the batch runs through sudo: guards that do not ask for
	// become then run as the login user again (runuser -u $SUDO_USER).
	become bool
}

func newBatch(probes []Probe) (*batch, error) {
	b := &batch{}
	seen := map[string]bool{}
	for _, p := range probes {
		switch p.Kind {
		case ProbeFile:
			if !path.IsAbs(p.Path) {
				return nil, fmt.Errorf("file probe: path %q is not absolute", p.Path)
			}
		case ProbeUnit:
			if p.Unit == "" || strings.ContainsAny(p.Unit, "\n/") {
				return nil, fmt.Errorf("unit probe: invalid unit name %q", p.Unit)
			}
		case ProbeGuard:
			if strings.TrimSpace(p.Script) == "" {
				return nil, errors.New("guard probe: empty script")
			}
		default:
			return nil, fmt.Errorf("probe of unknown kind %d", p.Kind)
		}
		key := p.Key()
		if seen[key] {
			continue
		}
		seen[key] = true
		if p.Kind == ProbeUnit {
			b.units = append(b.units, p.Unit)
		} else {
			b.probes = append(b.probes, p)
		}
	}
	return b, nil
}

// scriptHead defines the helpers and prints the facts. The whole script is
// one brace group reading from /dev/null: the shell reads the group before
// running it, so no command can swallow the rest of the script from stdin.
const scriptHead = `{
LC_ALL=C; export LC_ALL
tend_absent() {
	# $1 cannot be stat'ed: missing, or behind a directory this user cannot
	# search (stat fails with EACCES then). The nearest ancestor that can
	# be stat'ed tells: if it is a directory without search permission,
	# the path cannot be checked ("denied"); otherwise its child on the way
	# does not exist ("missing").
	d=$1
	while :; do
		d=${d%/*}
		[ -n "$d" ] || d=/
		if [ -e "$d" ] || [ -L "$d" ]; then
			if [ -d "$d" ] && [ ! -x "$d" ]; then echo denied; else echo missing; fi
			return
		fi
		if [ "$d" = / ]; then echo missing; return; fi
	done
}
tend_file() {
	if [ ! -e "$1" ] && [ ! -L "$1" ]; then
		tend_absent "$1"
		return
	fi
	if ! s=$(stat -c '%F|%a|%U|%G|%s' -- "$1"); then
		echo 'error stat failed'
		return
	fi
	printf 'stat %s\n' "$s"
	case $s in
	'regular file|'* | 'regular empty file|'*) ;;
	*) return ;;
	esac
	if [ "${s##*|}" -le MAXCONTENT ]; then
		printf 'content '
		if base64 -w0 < "$1"; then
			echo
		else
			echo
			echo 'error cannot read the file'
		fi
	else
		h=$(sha256sum < "$1" | cut -d' ' -f1)
		printf 'sha256 %s\n' "$h"
	fi
}
echo '@@tend facts'
printf 'hostname %s\n' "$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
printf 'nproc %s\n' "$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
printf 'os %s\n' "$( (. /etc/os-release && printf '%s' "$ID") 2>/dev/null)"
printf 'user %s\n' "${SUDO_USER:-$(id -un)}"
printf 'euser %s\n' "$(id -un)"
if [ -d /run/systemd/system ]; then echo 'systemd yes'; else echo 'systemd no'; fi
`

// script returns the batch's shell script.
func (b *batch) script() string {
	var sb strings.Builder
	sb.WriteString(strings.Replace(scriptHead, "MAXCONTENT", strconv.Itoa(MaxProbeContent), 1))
	for i, p := range b.probes {
		switch p.Kind {
		case ProbeFile:
			fmt.Fprintf(&sb, "echo '@@tend %d file'\ntend_file %s\n", i, ShellQuote(p.Path))
		case ProbeGuard:
			run := "/bin/sh -c " + ShellQuote(p.Script)
			if b.become && !p.Become {
				run = `if [ -n "${SUDO_USER:-}" ] && [ "$(id -u)" = 0 ] && [ "$SUDO_USER" != root ]; then runuser -u "$SUDO_USER" -- ` + run + "; else " + run + "; fi"
			}
			fmt.Fprintf(&sb, "echo '@@tend %d guard'\n{ %s; } </dev/null >/dev/null 2>&1\necho \"rc $?\"\n", i, run)
		}
	}
	if len(b.units) > 0 {
		sb.WriteString("if [ -d /run/systemd/system ]; then\necho '@@tend units'\n")
		sb.WriteString("systemctl show --property=" + strings.Join(unitProperties, ",") + " -- " + ShellJoin(b.units...))
		sb.WriteString("\necho \"@@tend units-rc $?\"\nfi\n")
	}
	sb.WriteString("echo '@@tend end'\n} </dev/null\n")
	return sb.String()
}

// parse reads the script's output into a State.
func (b *batch) parse(out string) (*State, error) {
	st := &State{Files: map[string]*FileState{}, Units: map[string]*UnitState{}, Guards: map[string]int{}}
	if !strings.HasSuffix(out, "@@tend end\n") {
		return nil, errors.New("the output is incomplete (no end marker)")
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	pos := 0
	next := func() (string, bool) {
		if pos >= len(lines) {
			return "", false
		}
		pos++
		return lines[pos-1], true
	}
	// section returns the lines up to the next "@@tend " header.
	section := func() []string {
		start := pos
		for pos < len(lines) && !strings.HasPrefix(lines[pos], "@@tend ") {
			pos++
		}
		return lines[start:pos]
	}

	if l, _ := next(); l != "@@tend facts" {
		return nil, fmt.Errorf("expected the facts header, got %q", l)
	}
	if err := parseFacts(section(), &st.Facts); err != nil {
		return nil, err
	}
	for i, p := range b.probes {
		want := fmt.Sprintf("@@tend %d %s", i, map[ProbeKind]string{ProbeFile: "file", ProbeGuard: "guard"}[p.Kind])
		if l, _ := next(); l != want {
			return nil, fmt.Errorf("expected %q, got %q", want, l)
		}
		body := section()
		switch p.Kind {
		case ProbeFile:
			fs, err := parseFile(p.Path, body)
			if errors.Is(err, errProbeDenied) {
				return nil, &deniedError{path: p.Path, user: st.Facts.EffectiveUser, become: b.become}
			}
			if err != nil {
				return nil, fmt.Errorf("file %s: %w", p.Path, err)
			}
			st.Files[p.Path] = fs
		case ProbeGuard:
			if len(body) != 1 || !strings.HasPrefix(body[0], "rc ") {
				return nil, fmt.Errorf("guard %q: expected one rc line, got %q", p.Script, body)
			}
			rc, err := strconv.Atoi(strings.TrimPrefix(body[0], "rc "))
			if err != nil {
				return nil, fmt.Errorf("guard %q: bad exit code %q", p.Script, body[0])
			}
			st.Guards[p.Script] = rc
		}
	}
	if len(b.units) > 0 && st.Facts.Systemd {
		if l, _ := next(); l != "@@tend units" {
			return nil, fmt.Errorf("expected the units header, got %q", l)
		}
		body := section()
		rcLine, _ := next()
		if rcLine != "@@tend units-rc 0" {
			return nil, fmt.Errorf("systemctl show failed (%s)", strings.TrimPrefix(rcLine, "@@tend "))
		}
		units, err := parseUnits(b.units, body)
		if err != nil {
			return nil, err
		}
		st.Units = units
	}
	if l, _ := next(); l != "@@tend end" {
		return nil, fmt.Errorf("expected the end marker, got %q", l)
	}
	if pos != len(lines) {
		return nil, fmt.Errorf("unexpected output after the end marker")
	}
	return st, nil
}

func parseFacts(body []string, f *Facts) error {
	seen := map[string]bool{}
	for _, l := range body {
		key, value, ok := strings.Cut(l, " ")
		if !ok {
			return fmt.Errorf("facts: malformed line %q", l)
		}
		seen[key] = true
		switch key {
		case "hostname":
			f.Hostname = value
		case "nproc":
			n, err := strconv.Atoi(value)
			if err != nil {
				return fmt.Errorf("facts: bad CPU count %q", value)
			}
			f.CPUs = n
		case "os":
			f.OS = value
		case "user":
			f.User = value
		case "euser":
			f.EffectiveUser = value
		case "systemd":
			if value != "yes" && value != "no" {
				return fmt.Errorf("facts: bad systemd flag %q", value)
			}
			f.Systemd = value == "yes"
		default:
			return fmt.Errorf("facts: unknown fact %q", key)
		}
	}
	for _, k := range []string{"hostname", "nproc", "os", "user", "euser", "systemd"} {
		if !seen[k] {
			return fmt.Errorf("facts: %s missing", k)
		}
	}
	return nil
}

// errProbeDenied is parseFile's error for a file the gathering user cannot
// check: a directory on the way is not searchable.
var errProbeDenied = errors.New("permission denied")

// deniedError is a file probe that could not be answered for lack of
// permission; Gather reports it as such, not as malformed output.
type deniedError struct {
	path, user string
	become     bool
}

func (e *deniedError) Error() string {
	msg := fmt.Sprintf("cannot read %s as %s: permission denied", e.path, e.user)
	if !e.become {
		msg += "; use become"
	}
	return msg
}

func parseFile(p string, body []string) (*FileState, error) {
	fs := &FileState{Path: p}
	if len(body) == 1 && body[0] == "missing" {
		return fs, nil
	}
	if len(body) == 1 && body[0] == "denied" {
		return nil, errProbeDenied
	}
	if len(body) == 0 {
		return nil, errors.New("empty section")
	}
	for _, l := range body {
		if msg, ok := strings.CutPrefix(l, "error "); ok {
			return nil, errors.New(msg)
		}
	}
	statLine, ok := strings.CutPrefix(body[0], "stat ")
	if !ok {
		return nil, fmt.Errorf("expected a stat line, got %q", body[0])
	}
	fields := strings.Split(statLine, "|")
	if len(fields) != 5 {
		return nil, fmt.Errorf("malformed stat line %q", body[0])
	}
	mode, err := strconv.ParseUint(fields[1], 8, 32)
	if err != nil || mode > 0o7777 {
		return nil, fmt.Errorf("bad mode in %q", body[0])
	}
	size, err := strconv.ParseInt(fields[4], 10, 64)
	if err != nil || size < 0 {
		return nil, fmt.Errorf("bad size in %q", body[0])
	}
	fs.Exists = true
	fs.Mode = permMode(uint32(mode))
	fs.Owner, fs.Group, fs.Size = fields[2], fields[3], size
	switch fields[0] {
	case "regular file", "regular empty file":
		fs.Type = "file"
	case "directory":
		fs.Type = "directory"
	case "symbolic link":
		fs.Type = "symlink"
	default:
		fs.Type = "other"
	}
	rest := body[1:]
	if fs.Type != "file" {
		if len(rest) != 0 {
			return nil, fmt.Errorf("unexpected lines after the stat line of a %s: %q", fs.Type, rest)
		}
		return fs, nil
	}
	if len(rest) != 1 {
		return nil, fmt.Errorf("expected one content or sha256 line, got %d lines", len(rest))
	}
	if enc, ok := strings.CutPrefix(rest[0], "content "); ok || rest[0] == "content" {
		data, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("bad content encoding: %w", err)
		}
		if data == nil {
			data = []byte{}
		}
		sum := sha256.Sum256(data)
		fs.Content, fs.SHA256, fs.Size = data, hex.EncodeToString(sum[:]), int64(len(data))
		return fs, nil
	}
	if h, ok := strings.CutPrefix(rest[0], "sha256 "); ok {
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("bad sha256 %q", h)
		}
		fs.SHA256, fs.Truncated = h, true
		return fs, nil
	}
	return nil, fmt.Errorf("expected a content or sha256 line, got %q", rest[0])
}

// permMode returns unix permission bits as an fs.FileMode in the 0o7777
// range (the convention of FileState.Mode).
func permMode(bits uint32) fs.FileMode { return fs.FileMode(bits & 0o7777) }

// parseUnits reads systemctl show output: one blank-line separated block of
// Key=Value lines per unit, in the order asked.
func parseUnits(names []string, body []string) (map[string]*UnitState, error) {
	var blocks [][]string
	var cur []string
	for _, l := range body {
		if l == "" {
			if cur != nil {
				blocks = append(blocks, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, l)
	}
	if cur != nil {
		blocks = append(blocks, cur)
	}
	if len(blocks) != len(names) {
		return nil, fmt.Errorf("systemctl show: %d property blocks for %d units", len(blocks), len(names))
	}
	units := map[string]*UnitState{}
	for i, block := range blocks {
		u := &UnitState{Name: names[i]}
		for _, l := range block {
			key, value, ok := strings.Cut(l, "=")
			if !ok {
				return nil, fmt.Errorf("systemctl show %s: malformed line %q", names[i], l)
			}
			var err error
			switch key {
			case "LoadState":
				u.LoadState = value
			case "ActiveState":
				u.ActiveState = value
			case "SubState":
				u.SubState = value
			case "UnitFileState":
				u.UnitFileState = value
			case "FragmentPath":
				u.FragmentPath = value
			case "MainPID":
				u.MainPID, err = strconv.Atoi(value)
			case "NRestarts":
				u.NRestarts, err = strconv.Atoi(value)
			case "NeedDaemonReload":
				u.NeedDaemonReload = value == "yes"
			default:
				err = errors.New("unexpected property")
			}
			if err != nil {
				return nil, fmt.Errorf("systemctl show %s: %q: %v", names[i], l, err)
			}
		}
		if u.LoadState == "" {
			return nil, fmt.Errorf("systemctl show %s: no LoadState", names[i])
		}
		units[names[i]] = u
	}
	return units, nil
}
