package executor

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"
)

// supervisorSource starts every remote command; see sh/supervisor.sh.
//
//go:embed sh/supervisor.sh
var supervisorSource string

// supervisorScript is supervisorSource without its comment lines: it goes
// to the host with every command.
var supervisorScript = withoutComments(supervisorSource)

// bootScript is the only script on a remote command line; it reads the
// supervisor and the command from standard input. See sh/boot.sh.
//
//go:embed sh/boot.sh
var bootSource string

// bootScript is bootSource without its comment lines.
var bootScript = withoutComments(bootSource)

// withoutComments drops the lines of a sh script that hold only a comment
// (the script must have no such line inside a quoted string).
func withoutComments(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

// Timing of the supervision of remote commands.
const (
	// DefaultHeartbeat is how often tend tells a running command that it
	// still wants it, unless the connection sets its own interval.
	DefaultHeartbeat = 5 * time.Second
	// heartbeatMisses heartbeat intervals without a heartbeat make the
	// host stop a command by itself.
	heartbeatMisses = 4
	// deadlineMargin is added to a command's timeout for the deadline the
	// host enforces by itself, in case tend's stop never reaches it.
	deadlineMargin = 5 * time.Second
	// stopWait is how long tend waits for the host to confirm a stop: the
	// supervisor's SIGTERM, one second, SIGKILL, plus the round trip.
	stopWait = 3 * time.Second
	// outputGrace is how long output still in flight after the exit status
	// (or from processes the command left running) is waited for.
	outputGrace = 2 * time.Second
)

// supervisorArgs are the arguments of one supervised command.
type supervisorArgs struct {
	token string
	// deadline is enforced by the host (0: none); heartbeat is the silence
	// after which the host stops the command (0: none).
	deadline, heartbeat time.Duration
	// input is the number of bytes of the command's own standard input
	// (-1: none).
	input int
	// prefix and script are the command: the prologue quotes them as one
	// string.
	prefix, script string
}

// words returns the argv that runs the supervisor: /bin/sh -c BOOT
// tend-supervisor TOKEN DEADLINE HEARTBEAT INPUT PROLOGUE-BYTES. The
// supervisor and the command come on standard input (prologue, from
// a.prologue), so that sudo does not write them to the host's log line by
// line.
func (a supervisorArgs) words(prologue []byte) []string {
	return []string{
		"/bin/sh", "-c", bootScript, "tend-supervisor", a.token,
		strconv.Itoa(ceilSeconds(a.deadline)), strconv.Itoa(ceilSeconds(a.heartbeat)),
		strconv.Itoa(a.input), strconv.Itoa(len(prologue)),
	}
}

// prologue is what the boot script reads first from standard input: the
// command, the supervisor, and an end line that shows it arrived whole.
func (a supervisorArgs) prologue() []byte {
	// One allocation of the right size: the script of a state read is tens
	// of KiB, and every host gets one.
	const head, end = "tend_sc=", "\n: tend-end-"
	quotes := strings.Count(a.prefix, "'") + strings.Count(a.script, "'")
	b := make([]byte, 0, len(head)+len(a.prefix)+len(a.script)+2+quotes*3+1+len(supervisorScript)+len(end)+len(a.token))
	b = append(b, head...)
	b = appendShellQuoted(b, a.prefix, a.script)
	b = append(b, '\n')
	b = append(b, supervisorScript...)
	b = append(b, end...)
	return append(b, a.token...)
}

// ceilSeconds rounds a positive duration up to whole seconds (at least 1);
// zero and negative durations give 0.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// newToken returns a random token that marks one command's lines.
func newToken() string {
	buf := make([]byte, 12)
	if _, err := rand.Read(buf); err != nil {
		panic("executor: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(buf)
}

// sudoWords returns the argv that runs words through sudo as user. With a
// prompt marker, sudo reads the password from stdin (-S) and announces the
// need for it with the marker on stderr; without, sudo runs with -n and
// fails instead of asking. The password never appears on a command line.
func sudoWords(user, promptMarker string, words []string) []string {
	args := []string{"sudo", "-H"}
	if promptMarker != "" {
		args = append(args, "-S", "-p", promptMarker)
	} else {
		args = append(args, "-n")
	}
	args = append(args, "-u", user, "--")
	return append(args, words...)
}

// commandLine is what the transport hands to the login shell.
func commandLine(words []string) string {
	return "exec " + ShellJoin(words...)
}

// stderrWatcher is the standard error of a supervised command. Until the
// supervisor's "tend-ok-TOKEN" line, it keeps what came first (sudo's
// prompts and complaints, a login shell's noise) and reports password
// prompts; after it, the command's own standard error, from which it takes
// out the supervisor's "tend-stop-TOKEN REASON" line.
type stderrWatcher struct {
	okLine       []byte
	stopPrefix   []byte
	promptMarker string

	mu       sync.Mutex
	pre      []byte
	post     []byte
	handed   bool
	prompts  int
	promptCh chan struct{}
	okCh     chan struct{}
}

func newStderrWatcher(token, promptMarker string) *stderrWatcher {
	return &stderrWatcher{
		okLine:       []byte("tend-ok-" + token + "\n"),
		stopPrefix:   []byte("\ntend-stop-" + token + " "),
		promptMarker: promptMarker,
		promptCh:     make(chan struct{}, 8),
		okCh:         make(chan struct{}),
	}
}

// Write implements io.Writer.
func (w *stderrWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.handed {
		w.post = append(w.post, p...)
		return len(p), nil
	}
	w.pre = append(w.pre, p...)
	if w.promptMarker != "" {
		n := bytes.Count(w.pre, []byte(w.promptMarker))
		for ; w.prompts < n; w.prompts++ {
			select {
			case w.promptCh <- struct{}{}:
			default:
			}
		}
	}
	if i := bytes.Index(w.pre, w.okLine); i >= 0 {
		w.post = append(w.post, w.pre[i+len(w.okLine):]...)
		w.pre = w.pre[:i]
		w.handed = true
		close(w.okCh)
	}
	return len(p), nil
}

// result returns whether the supervisor started, what came before it
// (markers removed), the command's standard error and the reason of a stop
// the supervisor reported ("" if none).
func (w *stderrWatcher) result() (handed bool, pre string, stderr []byte, stopped string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := string(w.pre)
	if w.promptMarker != "" {
		out = strings.ReplaceAll(out, w.promptMarker, "")
	}
	post := append([]byte(nil), w.post...)
	if i := bytes.LastIndex(post, w.stopPrefix); i >= 0 {
		rest := post[i+len(w.stopPrefix):]
		line, _, _ := bytes.Cut(rest, []byte("\n"))
		stopped = string(line)
		post = post[:i]
	}
	return w.handed, strings.TrimSpace(out), post, stopped
}

// handedOver reports whether the supervisor has started.
func (w *stderrWatcher) handedOver() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.handed
}

// stopReasons turns the supervisor's stop reasons into words.
var stopReasons = map[string]string{
	"stop":      "tend asked",
	"heartbeat": "no heartbeat from tend",
	"deadline":  "its deadline passed",
	"interrupt": "interrupted on the host",
}
