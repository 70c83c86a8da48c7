package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed sh/state.sh
var stateOnly string

// stateScript holds the state directory's functions (and the trust check
// they use).
var stateScript = trustScript + stateOnly + keepScript

// unitProperties are the properties Gather reads for each unit.
var unitProperties = []string{
	"LoadState", "ActiveState", "SubState", "UnitFileState", "MainPID",
	"NRestarts", "NeedDaemonReload", "FragmentPath",
}

// dropInDirs are where systemd looks for drop-ins, highest priority first
// (systemd.unit(5)); a drop-in of a name already seen in an earlier
// directory is masked by it.
var dropInDirs = []string{
	"/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
	"/run/systemd/generator.early", "/etc/systemd/system", "/etc/systemd/system.attached",
	"/run/systemd/system", "/run/systemd/system.attached", "/run/systemd/generator",
	"/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
	"/run/systemd/generator.late",
}

// Request is one round trip of state work on a host: the unit actions to
// run first (with their settle checks), the pending records to clear when
// they all succeeded, and the state to read afterwards.
type Request struct {
	Probes []Probe
	// Become reads (and acts) with escalated privileges.
	Become bool
	// Effects run first, in order; the first failure skips the rest, the
	// state is read all the same.
	Effects []Effect
	// Store are pending records to store first (durably), before the
	// effects.
	Store []Record
	// Clear names pending records to remove once every effect succeeded.
	Clear []string
	// Records reads the pending records and whether an apply holds the run
	// lock (Lock reads them in any case).
	Records bool
}

// LockHolder describes a run that holds a host's run lock, for the message
// another run gets.
type LockHolder struct {
	Controller string
	User       string
	PID        int
	Started    time.Time
	Command    string
}

func (h LockHolder) String() string {
	s := fmt.Sprintf("%s by %s@%s (pid %d), started %s", h.Command, h.User, h.Controller, h.PID, h.Started.UTC().Format(time.RFC3339))
	if h.Command == "" {
		s = strings.TrimPrefix(s, " by ")
	}
	return s
}

// LockStatus is what a plan learns about the run lock.
type LockStatus struct {
	// Held is set while an apply holds the lock; Holder then says who.
	Held   bool
	Holder string
}

// ErrLocked marks a host whose run lock another run holds.
var ErrLocked = errors.New("another tend run holds the host's run lock")

// LockedError is a refused lock, naming the holder.
type LockedError struct{ Holder string }

func (e *LockedError) Error() string {
	return fmt.Sprintf("another tend run holds this host's run lock: %s; it was not disturbed — wait for it to finish (a holder that is gone releases the lock by itself)", e.Holder)
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Gather runs req in one command: one round trip, whatever the number of
// probes and effects. With become the whole batch runs through sudo once.
// Identical probes are read once.
//
// The batch is one POSIX sh script (the command's input, so its size is
// not bounded by argv limits, and run only once it arrived whole) that
// prints one framed section per effect and probe; the parser is strict:
// output it does not understand is an error, never an empty state. A file
// the user cannot check (a directory on the way is not searchable) is an
// error too, never reported missing. Units are only read when systemd is
// PID 1; otherwise State.Units stays empty and Facts.Systemd is false.
func Gather(ctx context.Context, conn Conn, req Request) (*State, error) {
	b, err := newBatch(req)
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	res, err := conn.Run(ctx, b.command(nil))
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	return b.result(res)
}

// Lock takes the host's run lock and reads req's state under it, in one
// command that stays running, holding the lock, until the returned Lock is
// released or the connection goes (the host then releases the lock by
// itself: the lock is an flock(2) of the command, and the command stops
// when tend's heartbeats do). It also removes tend's own temporary files
// that a run that died left behind. A lock held by another run is refused
// with a *LockedError naming the holder.
func Lock(ctx context.Context, conn Conn, req Request, holder LockHolder) (*Held, *State, error) {
	req.Records = true
	b, err := newBatch(req)
	if err != nil {
		return nil, nil, fmt.Errorf("lock: %w", err)
	}
	b.lock = &holder
	held, out, err := conn.Hold(ctx, b.command(&holder), "@@tend end\n")
	if err != nil {
		if locked := lockedBy(out); locked != nil {
			return nil, nil, locked
		}
		return nil, nil, fmt.Errorf("lock: %w", err)
	}
	if locked := lockedBy(out); locked != nil {
		_ = held.Release()
		return nil, nil, locked
	}
	st, err := b.result(Result{Stdout: out})
	if err != nil {
		_ = held.Release()
		return nil, nil, err
	}
	return held, st, nil
}

// unknownHolder names a holder whose file says nothing (yet).
const unknownHolder = "a run that did not say who it is"

// lockedBy reads a refused lock's output: nil when the lock was taken.
func lockedBy(out []byte) *LockedError {
	busy, ok := strings.CutPrefix(string(out), "@@tend busy\n")
	if !ok {
		return nil
	}
	holder := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(busy), "@@tend end"))
	if holder == "" {
		holder = unknownHolder
	}
	return &LockedError{Holder: holder}
}

// batch is a deduplicated request.
type batch struct {
	req    Request
	probes []Probe // files, guards and facts, in first-seen order
	units  []Probe // one per unit
	lock   *LockHolder
	token  string
}

func newBatch(req Request) (*batch, error) {
	b := &batch{req: req, token: newToken()}
	seen := map[string]int{}
	for _, p := range req.Probes {
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
		case ProbeFact:
			if p.Fact == nil || p.Fact.Key() == "" || strings.TrimSpace(p.Fact.Script()) == "" {
				return nil, errors.New("fact probe: no fact, key or script")
			}
		default:
			return nil, fmt.Errorf("probe of unknown kind %d", p.Kind)
		}
		key := p.Key()
		if i, ok := seen[key]; ok {
			if p.Kind == ProbeUnit && p.DropIns {
				b.units[i].DropIns = true
			}
			continue
		}
		if p.Kind == ProbeUnit {
			seen[key] = len(b.units)
			b.units = append(b.units, p)
		} else {
			seen[key] = len(b.probes)
			b.probes = append(b.probes, p)
		}
	}
	for _, e := range req.Effects {
		if err := e.Validate(); err != nil {
			return nil, err
		}
	}
	for _, r := range req.Clear {
		if !recordNameRe.MatchString(r) {
			return nil, fmt.Errorf("invalid pending record name %q", r)
		}
	}
	if _, err := RecordScript(req.Store); err != nil {
		return nil, err
	}
	return b, nil
}

// maxScriptArg is the largest script passed as the command's script: on the
// host it becomes one argument of the command's shell, which must stay well
// under Linux's 128 KiB limit of one argument.
const maxScriptArg = 64 << 10

// command is the batch as a command: the script itself when it is small
// enough for the command line (it then arrives whole or not at all),
// otherwise a small loader that runs the script, its input, only once it
// arrived whole.
func (b *batch) command(holder *LockHolder) Command {
	script := b.script(holder)
	var settle time.Duration
	for _, e := range b.req.Effects {
		if e.Settles() {
			settle += e.Settle
		}
	}
	if len(script) <= maxScriptArg {
		return Command{Script: script, Become: b.req.Become, Extra: settle}
	}
	end := "# tend-end-" + b.token
	loader := `tend_s=$(cat) || exit 99
case $tend_s in
*` + ShellQuote(end) + `) ;;
*) echo 'tend: the state script arrived incomplete' >&2; exit 99 ;;
esac
eval "$tend_s"
`
	return Command{Script: loader, Input: []byte(script + end + "\n"), Become: b.req.Become, Extra: settle}
}

// scriptHead defines the helpers. The script runs its work in one brace
// group reading from /dev/null: no command can swallow its input.
const scriptHead = `LC_ALL=C; export LC_ALL
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
	# A regular file is opened first (nothing else is: a FIFO would block),
	# then the path (not following a symlink) and the descriptor are
	# stat'ed: what is read is the file described, not one swapped in
	# since, nor one a symlink swapped in just before the open points to.
	open=no
	if [ -f "$1" ] && [ ! -L "$1" ] && { command exec 4<"$1"; } 2>/dev/null; then
		open=yes
		s=$(stat -c '%F|%a|%U|%G|%s|%d:%i' -- "$1") || s=
		fd=$(stat -L -c '%d:%i' -- "/proc/$$/fd/4") || s=
	else
		s=$(stat -c '%F|%a|%U|%G|%s|%d:%i' -- "$1") || s=
		fd=
	fi
	if [ -z "$s" ]; then
		if [ "$open" = yes ]; then exec 4<&-; fi
		echo 'error stat failed'
		return
	fi
	id=${s##*|}
	s=${s%|*}
	printf 'stat %s\n' "$s"
	case $s in
	'regular file|'* | 'regular empty file|'*) ;;
	*)
		if [ "$open" = yes ]; then exec 4<&-; fi
		return
		;;
	esac
	if [ "$open" = no ]; then
		echo 'error cannot read the file'
		return
	fi
	if [ "${fd##*|}" != "$id" ]; then
		exec 4<&-
		echo 'error the file changed while tend read it'
		return
	fi
	if [ "${s##*|}" -le MAXCONTENT ]; then
		printf 'content '
		if base64 -w0 <&4; then
			echo
		else
			echo
			echo 'error cannot read the file'
		fi
	else
		h=$(sha256sum <&4 | cut -d' ' -f1)
		printf 'sha256 %s\n' "$h"
	fi
	exec 4<&-
}
tend_nproc() {
	# The CPUs this process may run on, as nproc(1) counts them, from
	# /proc (no process started); nproc itself where that is missing.
	n=0
	while read -r k v; do
		case $k in Cpus_allowed_list:)
			set -f
			o=$IFS
			IFS=,
			for r in $v; do
				case $r in
				*[!0-9-]* | '') n=0 && break ;;
				*-*) n=$((n + ${r#*-} - ${r%-*} + 1)) ;;
				*) n=$((n + 1)) ;;
				esac
			done
			IFS=$o
			set +f
			break
			;;
		esac
	done </proc/self/status
	if [ "$n" -le 0 ]; then n=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN); fi
	printf 'nproc %s\n' "$n"
}
tend_dropins() {
	# $1 unit name; the drop-in directories follow. Prints each effective
	# drop-in (a name already seen masks the same name further down).
	u=$1; shift
	seen=' '
	t=${u##*.}
	p=${u%.*}
	names="$u.d"
	case $p in *@*) names="$names ${p%%@*}@.$t.d" ;; esac
	while case $p in *-*) true ;; *) false ;; esac; do
		p=${p%-*}
		names="$names $p-.$t.d"
	done
	names="$names $t.d"
	for dir in "$@"; do
		for n in $names; do
			for f in "$dir/$n"/*.conf; do
				[ -f "$f" ] || continue
				b="$n/${f##*/}"
				case $seen in *" $b "*) continue ;; esac
				seen="$seen$b "
				printf 'dropin %s ' "$f"
				base64 -w0 < "$f"
				echo
			done
		done
	done
}
`

// script returns the batch's shell script.
func (b *batch) script(holder *LockHolder) string {
	var sb strings.Builder
	// Grown once: the fixed parts are most of it (tens of KiB per host).
	sb.Grow(len(scriptHead) + len(stateScript) + 4096 + 512*(len(b.probes)+len(b.units)))
	sb.WriteString(strings.Replace(scriptHead, "MAXCONTENT", strconv.Itoa(MaxProbeContent), 1))
	sb.WriteString(stateScript)
	sb.WriteString("{\n")
	switch {
	case holder != nil:
		// The lock: an flock(2) of this command, which holds it until it is
		// stopped. The holder is described for a run that finds it taken.
		fmt.Fprintf(&sb, `tend_state_dir create || exit 1
exec 9>>"$tend_sd/lock"
if ! flock -w 3 9; then
	echo '@@tend busy'
	cat -- "$tend_sd/lock.info" 2>/dev/null
	echo '@@tend end'
	exit 0
fi
printf '%%s\n' %s >"$tend_sd/lock.info"
echo '@@tend lock taken'
`, ShellQuote(holder.String()))
		// tend's own litter from runs that died: private command
		// directories whose supervisor is gone, and the staging files of
		// earlier versions in the login user's home (a team may still run
		// one). The lock's holder file, written anew, marks the run's start.
		sb.WriteString(`for tend_t in "${TMPDIR:-/tmp}"/.tend-run.??????????; do
	[ -d "$tend_t" ] && [ ! -L "$tend_t" ] || continue
	[ -O "$tend_t" ] || continue
	read -r tend_p 2>/dev/null <"$tend_t/pid" || tend_p=
	if [ -n "$tend_p" ] && kill -0 "$tend_p" 2>/dev/null; then continue; fi
	[ -n "$(find "$tend_t" -maxdepth 0 -mmin +1)" ] && rm -rf -- "$tend_t"
done
case ${SUDO_USER:-} in
'' | -* | *[!A-Za-z0-9._-]*) tend_h='' ;;
*[!0-9]*) eval "tend_h=~$SUDO_USER" ;;
*) tend_h='' ;;
esac
case $tend_h in
/*)
	for tend_f in "$tend_h"/.tend-upload-????????????????; do
		[ -f "$tend_f" ] && [ ! -L "$tend_f" ] || continue
		find "$tend_f" -maxdepth 0 -type f -user "$SUDO_USER" -mmin +1 -exec rm -f -- {} + 2>/dev/null
	done
	;;
esac
`)
	case b.req.Records:
		sb.WriteString(`tend_state_dir
if [ -f "$tend_sd/lock" ] && exec 9<"$tend_sd/lock"; then
	if flock -n -s 9; then
		echo '@@tend lock free'
	else
		echo '@@tend lock held'
		cat -- "$tend_sd/lock.info" 2>/dev/null
	fi
	exec 9<&-
else
	echo '@@tend lock free'
fi
`)
	}
	if b.req.Records || holder != nil {
		sb.WriteString("echo '@@tend records'\ntend_records\n")
	}
	if len(b.req.Store) > 0 {
		rs, _ := RecordScript(b.req.Store)
		sb.WriteString(rs)
	}
	if len(b.req.Effects) > 0 {
		sb.WriteString("tend_failed=no\necho '@@tend effects'\n")
		for i, e := range b.req.Effects {
			sb.WriteString(effectScript(i, e))
		}
	}
	if len(b.req.Clear) > 0 {
		sb.WriteString("if [ \"${tend_failed:-no}\" = no ]; then tend_clear " + ShellJoin(b.req.Clear...) + "; echo '@@tend cleared'; fi\n")
	}
	sb.WriteString(`echo '@@tend facts'
tend_whoami
read -r tend_hn </proc/sys/kernel/hostname || tend_hn=$(hostname)
printf 'hostname %s\n' "$tend_hn"
tend_nproc
tend_osr=$( (. /etc/os-release && printf '%s\n%s' "$ID" "${VERSION_ID:-}") 2>/dev/null) || tend_osr=
printf 'os %s\n' "${tend_osr%%"
"*}"
case $tend_osr in *"
"*) printf 'osversion %s\n' "${tend_osr#*"
"}" ;; *) echo 'osversion ' ;; esac
read -r tend_k </proc/sys/kernel/osrelease || tend_k=
printf 'kernel %s\n' "$tend_k"
printf 'arch %s\n' "$(uname -m)"
printf 'virt %s\n' "$(systemd-detect-virt 2>/dev/null || :)"
read -r tend_k </proc/1/comm 2>/dev/null || tend_k=
printf 'init %s\n' "$tend_k"
printf 'user %s\n' "${SUDO_USER:-$tend_user}"
printf 'euser %s\n' "$tend_user"
if [ -d /run/systemd/system ]; then echo 'systemd yes'; else echo 'systemd no'; fi
`)
	for i, p := range b.probes {
		switch p.Kind {
		case ProbeFile:
			fmt.Fprintf(&sb, "echo '@@tend %d file'\ntend_file %s\n", i, ShellQuote(p.Path))
		case ProbeGuard:
			run := "/bin/sh -c " + ShellQuote(p.Script)
			if b.req.Become && !p.Become {
				run = `if [ -n "${SUDO_USER:-}" ] && [ "$tend_uid" = 0 ] && [ "$SUDO_USER" != root ]; then runuser -u "$SUDO_USER" -- ` + run + "; else " + run + "; fi"
			}
			// 9>&-: a process the guard leaves behind must not inherit the
			// run lock's descriptor.
			fmt.Fprintf(&sb, "echo '@@tend %d guard'\n{ %s; } </dev/null >/dev/null 2>&1 9>&-\necho \"rc $?\"\n", i, run)
		case ProbeFact:
			// The snippet runs in a subshell (an exit in it ends only the
			// snippet); its output and then its status are one base64
			// line, so that nothing it prints can pass for a marker.
			fmt.Fprintf(&sb, "echo '@@tend %d fact'\n{ (\n%s\n) </dev/null 2>/dev/null 9>&-; printf '\\n@@tend-rc %%s\\n' \"$?\"; } | base64 -w0\necho\n", i, p.Fact.Script())
		}
	}
	if len(b.units) > 0 {
		names := make([]string, len(b.units))
		for i, u := range b.units {
			names[i] = u.Unit
		}
		sb.WriteString("if [ -d /run/systemd/system ]; then\necho '@@tend units'\n")
		sb.WriteString("systemctl show --property=" + strings.Join(unitProperties, ",") + " -- " + ShellJoin(names...))
		sb.WriteString("\necho \"@@tend units-rc $?\"\n")
		for i, u := range b.units {
			if u.DropIns {
				fmt.Fprintf(&sb, "echo '@@tend %d dropins'\ntend_dropins %s %s\n", i, ShellQuote(u.Unit), ShellJoin(dropInDirs...))
			}
		}
		sb.WriteString("fi\n")
	}
	sb.WriteString("echo '@@tend end'\n} </dev/null\n")
	if holder != nil {
		// Hold the lock until stopped — or until the supervisor is gone
		// (killed on the host with its watcher): a lock must never outlive
		// the run that holds it.
		// Each wait is a session of its own holding neither the lock nor the
		// output: when the run ends, stopping this command's session finds
		// nothing else in it (no sleep left to reap), the lock is free and
		// the output closed at once (sshd waits for the output to close).
		// When the run ends (its stop), what it kept for a revert goes: a
		// wait that a signal interrupts lets the trap run at once.
		sb.WriteString("trap 'tend_drop_kept; exit 0' TERM HUP INT\n")
		sb.WriteString("while kill -0 \"$PPID\" 2>/dev/null; do setsid sleep 2 </dev/null >/dev/null 2>&1 9>&- & wait $!; done\n")
	}
	return sb.String()
}

// result checks the command's result and parses its output.
func (b *batch) result(res Result) (*State, error) {
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("gather: the state script failed (exit %d): %s", res.ExitCode, trimOutput(res.Stderr))
	}
	st, err := b.parse(string(res.Stdout))
	if denied := (*deniedError)(nil); errors.As(err, &denied) {
		return nil, fmt.Errorf("gather: %w", err)
	}
	if err != nil {
		msg := fmt.Sprintf("gather: malformed state output: %v", err)
		if len(res.Stderr) > 0 {
			msg += " (stderr: " + trimOutput(res.Stderr) + ")"
		}
		return nil, errors.New(msg)
	}
	return st, nil
}

// parse reads the script's output into a State.
func (b *batch) parse(out string) (*State, error) {
	st := &State{Files: map[string]*FileState{}, Units: map[string]*UnitState{}, Guards: map[string]int{}, Values: map[string]any{}}
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
	peek := func() string {
		if pos >= len(lines) {
			return ""
		}
		return lines[pos]
	}
	// section returns the lines up to the next "@@tend " header.
	section := func() []string {
		start := pos
		for pos < len(lines) && !strings.HasPrefix(lines[pos], "@@tend ") {
			pos++
		}
		return lines[start:pos]
	}

	if b.lock != nil {
		if l, _ := next(); l != "@@tend lock taken" {
			return nil, fmt.Errorf("expected the lock line, got %q", l)
		}
	} else if b.req.Records {
		switch l, _ := next(); l {
		case "@@tend lock free":
		case "@@tend lock held":
			st.Lock.Held = true
			st.Lock.Holder = strings.TrimSpace(strings.Join(section(), " "))
			if st.Lock.Holder == "" {
				st.Lock.Holder = unknownHolder
			}
		default:
			return nil, fmt.Errorf("expected the lock status, got %q", l)
		}
	}
	if b.req.Records || b.lock != nil {
		if l, _ := next(); l != "@@tend records" {
			return nil, fmt.Errorf("expected the records header, got %q", l)
		}
		for strings.HasPrefix(peek(), "@@tend record ") {
			name := strings.TrimPrefix(lines[pos], "@@tend record ")
			pos++
			body := section()
			if len(body) != 1 {
				return nil, fmt.Errorf("pending record %s: expected one line, got %d", name, len(body))
			}
			r, err := parseRecord(name, body[0])
			if err != nil {
				return nil, err
			}
			st.Records = append(st.Records, r)
		}
	}
	if len(b.req.Effects) > 0 {
		if l, _ := next(); l != "@@tend effects" {
			return nil, fmt.Errorf("expected the effects header, got %q", l)
		}
		for i, e := range b.req.Effects {
			if l, _ := next(); l != fmt.Sprintf("@@tend effect %d", i) {
				return nil, fmt.Errorf("effect %s: expected its header, got %q", e, l)
			}
			r, err := parseEffect(e, section())
			if err != nil {
				return nil, fmt.Errorf("effect %s: %w", e, err)
			}
			st.Effects = append(st.Effects, r)
		}
	}
	if len(b.req.Clear) > 0 && peek() == "@@tend cleared" {
		pos++
		st.Cleared = true
	}

	if l, _ := next(); l != "@@tend facts" {
		return nil, fmt.Errorf("expected the facts header, got %q", l)
	}
	if err := parseFacts(section(), &st.Facts); err != nil {
		return nil, err
	}
	for i, p := range b.probes {
		want := fmt.Sprintf("@@tend %d %s", i, map[ProbeKind]string{ProbeFile: "file", ProbeGuard: "guard", ProbeFact: "fact"}[p.Kind])
		if l, _ := next(); l != want {
			return nil, fmt.Errorf("expected %q, got %q", want, l)
		}
		body := section()
		switch p.Kind {
		case ProbeFile:
			fs, err := parseFile(p.Path, body)
			if errors.Is(err, errProbeDenied) {
				return nil, &deniedError{path: p.Path, user: st.Facts.EffectiveUser, become: b.req.Become}
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
		case ProbeFact:
			v, err := parseFact(p.Fact, body)
			if err != nil {
				return nil, fmt.Errorf("fact %s: %w", p.Fact.Key(), err)
			}
			st.Values[p.Fact.Key()] = v
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
		names := make([]string, len(b.units))
		for i, u := range b.units {
			names[i] = u.Unit
		}
		units, err := parseUnits(names, body)
		if err != nil {
			return nil, err
		}
		for i, u := range b.units {
			if !u.DropIns {
				continue
			}
			if l, _ := next(); l != fmt.Sprintf("@@tend %d dropins", i) {
				return nil, fmt.Errorf("unit %s: expected its drop-ins, got %q", u.Unit, l)
			}
			dropins, err := parseDropIns(section())
			if err != nil {
				return nil, fmt.Errorf("unit %s: %w", u.Unit, err)
			}
			units[u.Unit].DropIns = dropins
			units[u.Unit].DropInsRead = true
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

// parseEffect reads one effect's section.
func parseEffect(e Effect, body []string) (EffectResult, error) {
	r := EffectResult{Effect: e}
	if len(body) == 1 && body[0] == "skipped" {
		return r, nil
	}
	r.Ran = true
	for _, l := range body {
		key, value, _ := strings.Cut(l, " ")
		switch key {
		case "rc":
			n, err := strconv.Atoi(value)
			if err != nil {
				return r, fmt.Errorf("bad exit code %q", value)
			}
			r.ExitCode = n
		case "out", "journal":
			data, err := base64.StdEncoding.DecodeString(value)
			if err != nil {
				return r, fmt.Errorf("bad %s encoding: %w", key, err)
			}
			if key == "out" {
				r.Output = string(data)
			} else {
				r.Journal = string(data)
			}
		case "settle":
			r.Settle = strings.TrimPrefix(value, "fail ")
		default:
			return r, fmt.Errorf("unexpected line %q", l)
		}
	}
	if len(body) == 0 || !strings.HasPrefix(body[0], "rc ") {
		return r, errors.New("no exit code")
	}
	if e.Settles() && r.ExitCode == 0 && r.Settle == "" {
		return r, errors.New("no settle result")
	}
	return r, nil
}

// parseFact unframes a fact's answer (one base64 line: the output, a
// newline, and the status line) and hands it to the fact's parser.
func parseFact(f Fact, body []string) (any, error) {
	if len(body) != 1 {
		return nil, fmt.Errorf("expected one line, got %d", len(body))
	}
	data, err := base64.StdEncoding.DecodeString(body[0])
	if err != nil {
		return nil, fmt.Errorf("bad encoding: %w", err)
	}
	i := bytes.LastIndex(data, []byte("\n@@tend-rc "))
	if i < 0 || !bytes.HasSuffix(data, []byte("\n")) {
		return nil, errors.New("the answer has no exit status (cut short?)")
	}
	rc, err := strconv.Atoi(string(data[i+len("\n@@tend-rc ") : len(data)-1]))
	if err != nil {
		return nil, fmt.Errorf("bad exit status in %q", data[i+1:])
	}
	return f.Parse(data[:i], rc)
}

// parseDropIns reads the drop-ins of a unit.
func parseDropIns(body []string) ([]DropIn, error) {
	var out []DropIn
	for _, l := range body {
		rest, ok := strings.CutPrefix(l, "dropin ")
		if !ok {
			return nil, fmt.Errorf("unexpected drop-in line %q", l)
		}
		i := strings.LastIndexByte(rest, ' ')
		if i < 0 {
			return nil, fmt.Errorf("malformed drop-in line %q", l)
		}
		data, err := base64.StdEncoding.DecodeString(rest[i+1:])
		if err != nil {
			return nil, fmt.Errorf("drop-in %s: bad encoding: %w", rest[:i], err)
		}
		out = append(out, DropIn{Path: rest[:i], Content: data})
	}
	return out, nil
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
		case "osversion":
			f.OSVersion = value
		case "kernel":
			f.Kernel = value
		case "arch":
			f.Arch = value
		case "virt":
			f.Virtualization = value
			if value == "" {
				f.Virtualization = "unknown"
			}
		case "init":
			f.Init = value
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
	for _, k := range []string{"hostname", "nproc", "os", "osversion", "kernel", "arch", "virt", "init", "user", "euser", "systemd"} {
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

// ShowProperties reads the output of systemctl show for one unit — its
// Key=Value lines (blank lines are skipped) — into a map. A line without
// "=" is an error naming the unit: output tend does not understand is
// never read as a state. What each reader requires of the map is its own.
func ShowProperties(unit string, lines []string) (map[string]string, error) {
	props := make(map[string]string, len(lines))
	for _, l := range lines {
		if l == "" {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("systemctl show %s: malformed line %q", unit, l)
		}
		props[k] = v
	}
	return props, nil
}

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
		props, err := ShowProperties(names[i], block)
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
				return nil, fmt.Errorf("systemctl show %s: %q: %v", names[i], key+"="+value, err)
			}
		}
		if u.LoadState == "" {
			return nil, fmt.Errorf("systemctl show %s: no LoadState", names[i])
		}
		units[names[i]] = u
	}
	return units, nil
}
