// Package drill runs a restart drill on one host: it kills a systemd
// unit's main process with SIGKILL and measures, on the host, how long
// systemd takes to bring the unit back with a new main process and the
// expected number of processes. It knows the host only through an
// executor.Conn; health checks and rollouts are the caller's.
//
// A drill costs two commands: Read (the unit's restart policy and its
// state; nothing is changed, so a refusal leaves the host alone) and Kill
// (the kill, then a loop on the host polling every 200 ms until the unit
// is back, systemd gave up, or the deadline passed; then the journal's
// tail when it is not back).
package drill

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tend-sh/tend/executor"
)

// Unit is what Read found about a unit before the drill.
type Unit struct {
	Name        string
	LoadState   string
	ActiveState string
	SubState    string
	Result      string
	MainPID     int
	// Restart is the unit's Restart= ("no", "always", "on-failure"...).
	Restart    string
	RestartSec time.Duration
	NRestarts  int
	// StartLimitBurst and StartLimitInterval are systemd's start rate
	// limit (StartLimitBurst=, StartLimitIntervalSec=); an interval of 0
	// disables it.
	StartLimitBurst    int
	StartLimitInterval time.Duration
}

// readProps are the properties Read asks systemctl for.
const readProps = "Id,LoadState,ActiveState,SubState,Result,MainPID,Restart,RestartUSec,NRestarts,StartLimitBurst,StartLimitIntervalUSec"

// Read reads the unit's restart policy and state (systemctl show).
func Read(ctx context.Context, conn executor.Conn, unit string, become bool) (*Unit, error) {
	res, err := conn.Run(ctx, executor.Command{
		Script: "LC_ALL=C systemctl show -p " + readProps + " -- " + executor.ShellQuote(unit),
		Become: become, Timeout: 30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("reading unit %s: %w", unit, err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("reading unit %s: systemctl show exited %d: %s", unit, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	return ParseShow(unit, res.Stdout)
}

// ParseShow parses the output of systemctl show -p readProps. Every
// property must be there; a value that does not parse is an error.
func ParseShow(unit string, out []byte) (*Unit, error) {
	props, err := executor.ShowProperties(unit, strings.Split(string(out), "\n"))
	if err != nil {
		return nil, err
	}
	for _, k := range strings.Split(readProps, ",") {
		if _, ok := props[k]; !ok {
			return nil, fmt.Errorf("systemctl show %s: no %s in its output", unit, k)
		}
	}
	u := &Unit{Name: unit, LoadState: props["LoadState"], ActiveState: props["ActiveState"], SubState: props["SubState"],
		Result: props["Result"], Restart: props["Restart"]}
	num := func(k string) int {
		n, e := strconv.Atoi(props[k])
		if e != nil && err == nil {
			err = fmt.Errorf("systemctl show %s: %s=%q is not a number", unit, k, props[k])
		}
		return n
	}
	span := func(k string) time.Duration {
		d, e := ParseTimespan(props[k])
		if e != nil && err == nil {
			err = fmt.Errorf("systemctl show %s: %s: %w", unit, k, e)
		}
		return d
	}
	u.MainPID = num("MainPID")
	u.NRestarts = num("NRestarts")
	u.RestartSec = span("RestartUSec")
	u.StartLimitInterval = span("StartLimitIntervalUSec")
	if props["StartLimitBurst"] != "" {
		u.StartLimitBurst = num("StartLimitBurst")
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ParseTimespan reads a systemd timespan as systemctl show prints it:
// "10s", "100ms", "1min 30s", "0", "infinity" (returned as -1).
func ParseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "0":
		return 0, nil
	case "infinity":
		return -1, nil
	}
	units := []struct {
		suffix string
		d      time.Duration
	}{ // longest suffixes first
		{"usec", time.Microsecond}, {"msec", time.Millisecond}, {"min", time.Minute},
		{"us", time.Microsecond}, {"µs", time.Microsecond}, {"ms", time.Millisecond},
		{"s", time.Second}, {"h", time.Hour}, {"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour},
	}
	var total time.Duration
	for _, word := range strings.Fields(s) {
		found := false
		for _, u := range units {
			num, ok := strings.CutSuffix(word, u.suffix)
			if !ok || num == "" {
				continue
			}
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 {
				continue
			}
			total += time.Duration(f * float64(u.d))
			found = true
			break
		}
		if !found {
			return 0, fmt.Errorf("%q is not a systemd timespan", s)
		}
	}
	return total, nil
}

// ErrRefused wraps the reasons a drill is refused before anything is
// killed.
var ErrRefused = errors.New("refused")

// Refuse returns why the unit must not be drilled (wrapping ErrRefused),
// or nil: a unit that is not loaded or not running, or whose restart
// policy is Restart=no (systemd would leave it dead).
func (u *Unit) Refuse() error {
	switch {
	case u.LoadState != "loaded":
		return fmt.Errorf("%w: %s is %s, not a loaded unit", ErrRefused, u.Name, u.LoadState)
	case u.Restart == "" || u.Restart == "no":
		return fmt.Errorf("%w: %s has no restart policy (Restart=%s): systemd would not bring it back; nothing was killed", ErrRefused, u.Name, orNo(u.Restart))
	case u.Result == "start-limit-hit":
		return fmt.Errorf("%w: %s is already failed with start-limit-hit (systemd gave up restarting it): nothing to drill; nothing was killed", ErrRefused, u.Name)
	case u.ActiveState != "active" || u.MainPID <= 0:
		return fmt.Errorf("%w: %s is not running (%s/%s, MainPID=%d): a drill starts from a running service; nothing was killed", ErrRefused, u.Name, u.ActiveState, u.SubState, u.MainPID)
	}
	return nil
}

func orNo(s string) string {
	if s == "" {
		return "no"
	}
	return s
}

// Options tune the kill and the wait.
type Options struct {
	// Workers is the number of processes expected in the unit's cgroup
	// besides the main process; negative: not checked.
	Workers int
	// Margin is added to RestartSec to bound the wait.
	Margin time.Duration
	// Become runs the commands through sudo.
	Become bool
}

// Outcome is what the kill and the wait found.
type Outcome struct {
	// Recovered: the unit is active again with a new main PID and the
	// expected processes.
	Recovered bool
	// Recovery is the time from the kill to the recovery (host clock);
	// Waited, when not recovered, how long the host waited. Ended is when,
	// after the kill, the wait ended (for a recovered unit, after it stayed
	// up for Settle).
	Recovery, Waited, Ended time.Duration
	OldPID, NewPID          int
	// Processes is the number of processes in the unit's cgroup at the
	// end (-1 when the cgroup could not be read).
	Processes int
	// The unit's state at the end.
	ActiveState, SubState, Result string
	NRestarts                     int
	// GaveUp: systemd stopped restarting the unit (it is failed and no
	// restart is pending) before the deadline.
	GaveUp bool
	// Journal is the tail of the unit's journal when not recovered.
	Journal string
	// startLimit: the journal since the kill says systemd refused a start
	// for the start rate limit.
	startLimit bool
}

// StartLimitHit reports whether systemd refused to start the unit again
// because of its start rate limit: its Result= says start-limit-hit, or
// (systemd keeps the Result= of the crash before, as Debian 12's 252 does)
// its journal since the kill says "Start request repeated too quickly".
func (o *Outcome) StartLimitHit() bool { return o.Result == "start-limit-hit" || o.startLimit }

// Settle is how long a restarted unit must stay up, with the same main
// process, before it counts as back; the recovery time is measured to
// when it was first seen up.
const Settle = time.Second

// pollEvery is how often the host polls the unit.
const pollEvery = "0.2"

// killScript kills the main process and polls, on the host. $1 unit, $2 old
// main PID, $3 deadline in ms after the kill, $4 processes expected in the
// cgroup (-1: any), $5 how long in ms the unit must stay up with the same
// new main process to count as back (a service that crashes at once is
// active for an instant after each start). It kills nothing, and prints
// "moved" and the unit's main PID, when that is no longer $2. It prints
// "killed", then one
// "end" line; when not recovered, "startlimit" if the journal since the
// kill says systemd refused a start for its rate limit, then "journal"
// and the journal's tail.
const killScript = `unit=$1 old=$2 limit=$3 want=$4 settle=$5
up='' uppid='' dead=0
now() { date +%s%3N; }
procs() {
	f=/sys/fs/cgroup$1/cgroup.procs
	[ -r "$f" ] || f=/sys/fs/cgroup/systemd$1/cgroup.procs
	[ -r "$f" ] || f=/sys/fs/cgroup/unified$1/cgroup.procs
	if [ -r "$f" ]; then wc -l <"$f" | tr -d ' '; else echo -1; fi
}
# The main process Read saw must still be the unit's: a PID the unit no
# longer owns may be anyone's by now.
cur=$(LC_ALL=C systemctl show -p MainPID --value -- "$unit")
if [ "$cur" != "$old" ]; then echo "moved ${cur:-0}"; exit 0; fi
if ! kill -9 "$old"; then echo "killfailed"; exit 0; fi
t0=$(now)
echo "killed $t0"
while :; do
	as='' ss='' pid='' res='' nr='' cg=''
	while IFS='=' read -r k v; do
		case $k in
		ActiveState) as=$v ;; SubState) ss=$v ;; MainPID) pid=$v ;; Result) res=$v ;;
		NRestarts) nr=$v ;; ControlGroup) cg=$v ;;
		esac
	done <<EOF
$(LC_ALL=C systemctl show -p ActiveState,SubState,MainPID,Result,NRestarts,ControlGroup -- "$unit")
EOF
	t=$(now)
	n=-1
	[ -n "$cg" ] && n=$(procs "$cg")
	if [ "$as" = active ] && [ "${pid:-0}" != 0 ] && [ "$pid" != "$old" ] &&
		{ [ "$want" -lt 0 ] || [ "$n" -eq $((want + 1)) ]; }; then
		# Up: it must stay up, with the same main process, for the settle
		# time; the recovery is when it was first seen up.
		if [ "$pid" != "$uppid" ]; then up=$t uppid=$pid; fi
		if [ $((t - up)) -ge "$settle" ]; then
			echo "end recovered $((up - t0)) $pid $n $as $ss $res $nr $((t - t0))"
			exit 0
		fi
	else
		up='' uppid=''
	fi
	# Failed, or dead, twice in a row: a restart job passes through
	# inactive/dead between its stop and its start.
	if [ "$as" = failed ] || { [ "$as" = inactive ] && [ "$ss" = dead ]; }; then
		dead=$((dead + 1))
	else
		dead=0
	fi
	if [ "$dead" -ge 2 ]; then
		echo "end gaveup $((t - t0)) ${pid:-0} $n $as $ss $res $nr $((t - t0))"
		break
	fi
	if [ -z "$up" ] && [ $((t - t0)) -ge "$limit" ]; then
		echo "end timeout $((t - t0)) ${pid:-0} $n $as $ss $res $nr $((t - t0))"
		break
	fi
	sleep ` + pollEvery + `
done
if LC_ALL=C journalctl -u "$unit" --since "@$((t0 / 1000))" -q --no-pager -o cat 2>/dev/null | grep -q 'Start request repeated too quickly'; then
	echo startlimit
fi
echo journal
LC_ALL=C journalctl -u "$unit" -n 20 --no-pager -q 2>&1
exit 0
`

// Deadline is how long the host waits for the unit after the kill:
// RestartSec plus the margin.
func Deadline(u *Unit, margin time.Duration) time.Duration {
	return max(u.RestartSec, 0) + margin
}

// Kill kills the unit's main process (u, as Read returned it) with SIGKILL
// and waits on the host, in one command, until it is back, systemd gave
// up, or the deadline passed.
func Kill(ctx context.Context, conn executor.Conn, u *Unit, opts Options) (*Outcome, error) {
	if err := u.Refuse(); err != nil {
		return nil, err
	}
	deadline := Deadline(u, opts.Margin)
	res, err := conn.Run(ctx, executor.Command{
		Script: "set -- " + executor.ShellJoin(u.Name, strconv.Itoa(u.MainPID), strconv.FormatInt(deadline.Milliseconds(), 10), strconv.Itoa(opts.Workers), strconv.FormatInt(Settle.Milliseconds(), 10)) + "\n" + killScript,
		Become: opts.Become, Timeout: 30 * time.Second, Extra: deadline + Settle,
	})
	if err != nil {
		return nil, fmt.Errorf("killing %s (MainPID %d): %w", u.Name, u.MainPID, err)
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("killing %s: the drill script exited %d: %s", u.Name, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	o, err := ParseKill(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("killing %s: %w", u.Name, err)
	}
	o.OldPID = u.MainPID
	return o, nil
}

// ParseKill parses the kill script's output.
func ParseKill(out []byte) (*Outcome, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return nil, errors.New("the drill script printed nothing")
	}
	switch first := sc.Text(); {
	case strings.HasPrefix(first, "moved "):
		return nil, fmt.Errorf("the unit's main process changed since it was read (now MainPID %s); nothing was killed", strings.TrimPrefix(first, "moved "))
	case first == "killfailed":
		return nil, errors.New("kill -9 of the main process failed (it exited meanwhile?); see the unit's state")
	case !strings.HasPrefix(first, "killed "):
		return nil, fmt.Errorf("unexpected drill output %q", first)
	}
	if !sc.Scan() {
		return nil, errors.New("the drill script stopped after the kill")
	}
	f := strings.Split(sc.Text(), " ")
	if len(f) != 10 || f[0] != "end" {
		return nil, fmt.Errorf("unexpected drill output %q", sc.Text())
	}
	o := &Outcome{ActiveState: f[5], SubState: f[6], Result: f[7]}
	var nums [5]int
	for i, s := range []string{f[2], f[3], f[4], f[8], f[9]} {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("unexpected drill output %q: %q is not a number", sc.Text(), s)
		}
		nums[i] = n
	}
	elapsed := time.Duration(nums[0]) * time.Millisecond
	o.NewPID, o.Processes, o.NRestarts, o.Ended = nums[1], nums[2], nums[3], time.Duration(nums[4])*time.Millisecond
	switch f[1] {
	case "recovered":
		o.Recovered, o.Recovery = true, elapsed
		return o, nil
	case "gaveup":
		o.GaveUp, o.Waited = true, elapsed
	case "timeout":
		o.Waited = elapsed
	default:
		return nil, fmt.Errorf("unexpected drill outcome %q", f[1])
	}
	more := sc.Scan()
	if more && sc.Text() == "startlimit" {
		o.startLimit = true
		more = sc.Scan()
	}
	if more && sc.Text() == "journal" {
		var j []string
		for sc.Scan() {
			j = append(j, sc.Text())
		}
		o.Journal = strings.Join(j, "\n")
	}
	return o, nil
}

// Explain says why a unit that did not come back did not, for the
// report: the start-limit trap in full, or the state systemd left it in.
func (o *Outcome) Explain(u *Unit, opts Options) string {
	var b strings.Builder
	switch {
	case o.StartLimitHit():
		fmt.Fprintf(&b, "start-limit-hit: systemd gave up restarting %s (StartLimitBurst=%d in StartLimitIntervalSec=%s) and left it failed; Restart=%s will not bring it back until someone runs systemctl reset-failed. "+
			"A service that crashes at once is started every RestartSec=%s, so start number %d comes %s after the first, inside the interval. "+
			"Fix: put StartLimitIntervalSec=/StartLimitBurst= in [Unit] (in [Service] they are a deprecated alias) with restart_sec × burst above the interval (e.g. RestartSec=%s), or StartLimitIntervalSec=0 to never give up; and find why it crashes (journal below)",
			u.Name, u.StartLimitBurst, span(u.StartLimitInterval), u.Restart, span(u.RestartSec), u.StartLimitBurst+1,
			span(time.Duration(u.StartLimitBurst)*u.RestartSec), span(u.StartLimitInterval/time.Duration(max(u.StartLimitBurst, 1))+time.Second))
	case o.GaveUp:
		fmt.Fprintf(&b, "%s did not come back: systemd left it %s/%s (Result=%s) %s after the kill", u.Name, o.ActiveState, o.SubState, o.Result, span(o.Waited))
	default:
		procs := fmt.Sprintf("%d processes in its cgroup", o.Processes)
		if o.Processes < 0 {
			procs = "its cgroup could not be read"
		}
		if opts.Workers >= 0 {
			procs += fmt.Sprintf(", want %d: the main one and workers = %d", opts.Workers+1, opts.Workers)
		}
		fmt.Fprintf(&b, "%s did not come back within RestartSec=%s + margin %s: it is %s/%s (MainPID %d, was %d; %s; Result=%s)",
			u.Name, span(u.RestartSec), span(opts.Margin), o.ActiveState, o.SubState, o.NewPID, o.OldPID, procs, o.Result)
	}
	if o.Journal != "" {
		b.WriteString("\njournalctl -u " + u.Name + " -n 20:\n" + o.Journal)
	}
	return b.String()
}

// span renders a duration as systemd writes timespans: 10s, 1min, 1min 30s,
// 250ms.
func span(d time.Duration) string {
	switch {
	case d < 0:
		return "infinity"
	case d == 0:
		return "0"
	case d%time.Second != 0:
		return d.Round(time.Millisecond).String()
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dmin", d/time.Minute)
	case d > time.Minute:
		return fmt.Sprintf("%dmin %ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
