package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// This file holds the command runner shared by the SSH and the local
// connection: supervision (see sh/supervisor.sh), privilege escalation with
// sudo, stopping, and the reading of outcomes. A connection only knows how
// to start a command line with three standard streams (a starter);
// everything else lives here, once, for both.

// proc is one command line started on the host by a transport.
type proc interface {
	// stdin is the command's standard input. Only the runner's feeder
	// writes to it, and only the feeder calls closeStdin.
	stdin() io.Writer
	// closeStdin sends EOF: the supervisor then stops the command.
	closeStdin()
	// wait blocks until the command's exit status arrives, or returns an
	// error when the transport lost the command (the connection closed
	// without an exit status). Output still in flight is waited for, up to
	// outputGrace.
	wait() (exitStatus, error)
	// abort gives up on the command: the channel is closed (SSH) or the
	// process group killed (local), and wait returns.
	abort()
}

// exitStatus is how the command line ended: an exit code, or the signal
// that killed it.
type exitStatus struct {
	code   int
	signal string
}

// starter starts line (a shell command line) on the host, writing its
// standard output and error to the given writers.
type starter func(line string, stdout, stderr io.Writer) (proc, error)

// becomer holds a connection's become settings.
type becomer struct {
	// enabled reports whether the connection was configured with become.
	enabled bool
	// user is the default become user ("" means root).
	user string
	// loginUser is the user the connection runs commands as; become to the
	// same user needs no sudo.
	loginUser string
	// password returns the sudo password; nil means none is configured and
	// sudo runs with -n.
	password func() (string, error)

	mu       sync.Mutex
	cachedPw *string
}

// target says whether cmd must go through sudo, and as which user.
func (b *becomer) target(become bool, user string) (string, bool) {
	if b == nil || !become || !b.enabled {
		return "", false
	}
	if user == "" {
		user = b.user
	}
	if user == "" {
		user = "root"
	}
	if user == b.loginUser {
		return user, false
	}
	return user, true
}

// getPassword asks the configured password source once per connection.
func (b *becomer) getPassword() (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cachedPw != nil {
		return *b.cachedPw, nil
	}
	pw, err := b.password()
	if err != nil {
		return "", err
	}
	b.cachedPw = &pw
	return pw, nil
}

// runner runs supervised commands over one connection.
type runner struct {
	start  starter
	become *becomer
	// timeout is the default command timeout; heartbeat the interval of
	// heartbeats (0: none).
	timeout   time.Duration
	heartbeat time.Duration
	// lost, when set, says whether the connection is gone (waiting a little
	// for it to be noticed) and why, if tend dropped it (for messages,
	// e.g. "no answer to keepalives for 20s"). Nil: the transport cannot
	// lose its connection (local).
	lost func() (gone bool, why string)
	// stateDir, when set, is the host's state directory (tend_state in
	// every command; see sh/state.sh).
	stateDir string
}

// errSudoPasswordRequired is returned when sudo -n needs a password.
var errSudoPasswordRequired = errors.New("sudo asks for a password")

// task is one supervised command in flight.
type task struct {
	r       *runner
	cmd     Command
	user    string
	viaSudo bool
	held    bool
	// prologue goes to standard input first: the supervisor and the
	// command, which the boot script reads.
	prologue []byte

	proc    proc
	stdout  *notifyBuffer
	stderr  *stderrWatcher
	stopReq chan struct{} // closed to ask the feeder for EOF
	stopped sync.Once
	exited  chan struct{} // closed once wait returned
	exit    exitStatus
	waitErr error
	fed     chan struct{}

	feedMu  sync.Mutex
	wrongPw bool
	pwErr   error
}

// launch starts cmd under the supervisor (through sudo when it asks for
// it), and the feeder that answers sudo, passes the input and sends
// heartbeats. A held command gets no timeout and no deadline.
func (r *runner) launch(cmd Command, held bool) (*task, error) {
	if strings.IndexByte(cmd.Script, 0) >= 0 || strings.IndexByte(cmd.Prefix, 0) >= 0 {
		// A shell drops NUL bytes and would run another script.
		return nil, errors.New("the script holds a NUL byte: not run")
	}
	t := &task{
		r: r, cmd: cmd, held: held,
		stdout:  &notifyBuffer{},
		stopReq: make(chan struct{}),
		exited:  make(chan struct{}),
		fed:     make(chan struct{}),
	}
	t.user, t.viaSudo = r.become.target(cmd.Become, cmd.BecomeUser)
	token := newToken()
	prefix := cmd.Prefix
	if r.stateDir != "" {
		prefix = "tend_state=" + ShellQuote(r.stateDir) + "\n" + prefix
	}
	args := supervisorArgs{token: token, input: -1, prefix: prefix, script: cmd.Script}
	if cmd.Input != nil {
		args.input = len(cmd.Input)
	}
	if r.heartbeat > 0 {
		args.heartbeat = r.heartbeat * heartbeatMisses
	}
	if !held {
		args.deadline = r.commandTimeout(cmd) + deadlineMargin
	}
	t.prologue = args.prologue()
	words := args.words(t.prologue)
	promptMarker := ""
	if t.viaSudo {
		if r.become.password != nil {
			promptMarker = "[tend-sudo-prompt-" + token + "]"
		}
		words = sudoWords(t.user, promptMarker, words)
	}
	t.stderr = newStderrWatcher(token, promptMarker)
	p, err := r.start(commandLine(words), t.stdout, t.stderr)
	if err != nil {
		return nil, err
	}
	t.proc = p
	go t.feed()
	go func() {
		t.exit, t.waitErr = p.wait()
		close(t.exited)
	}()
	return t, nil
}

// commandTimeout is the timeout of cmd.
func (r *runner) commandTimeout(cmd Command) time.Duration {
	switch {
	case cmd.Timeout > 0:
		return cmd.Timeout + cmd.Extra
	case r.timeout > 0:
		return r.timeout + cmd.Extra
	}
	return DefaultCommandTimeout + cmd.Extra
}

// feed is the only writer of the command's standard input: it answers
// sudo's password prompt, waits for the supervisor, writes the input, then
// sends heartbeats until the command ends or a stop is asked for, which it
// turns into EOF.
func (t *task) feed() {
	defer close(t.fed)
	w := t.proc.stdin()
	eof := func() { t.proc.closeStdin() }
	prompts := 0
	for handed := false; !handed; {
		select {
		case <-t.stderr.promptCh:
			prompts++
			if prompts > 1 {
				// sudo asks again: the password was wrong. Stop here rather
				// than let sudo wait for more attempts.
				t.feedMu.Lock()
				t.wrongPw = true
				t.feedMu.Unlock()
				eof()
				return
			}
			pw, err := t.r.become.getPassword()
			if err != nil {
				t.feedMu.Lock()
				t.pwErr = err
				t.feedMu.Unlock()
				eof()
				return
			}
			if _, err := io.WriteString(w, pw+"\n"); err != nil {
				return
			}
		case <-t.stderr.okCh:
			handed = true
		case <-t.stopReq:
			eof()
			return
		case <-t.exited:
			return
		}
	}
	for _, data := range [][]byte{t.prologue, t.cmd.Input} {
		for len(data) > 0 {
			select {
			case <-t.stopReq:
				eof()
				return
			case <-t.exited:
				return
			default:
			}
			n := min(len(data), 32<<10)
			if _, err := w.Write(data[:n]); err != nil {
				return
			}
			data = data[n:]
		}
	}
	var tick <-chan time.Time
	if t.r.heartbeat > 0 {
		ticker := time.NewTicker(t.r.heartbeat)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case <-tick:
			if _, err := w.Write([]byte{'h'}); err != nil {
				return
			}
		case <-t.stopReq:
			eof()
			return
		case <-t.exited:
			return
		}
	}
}

// requestStop asks the supervisor to stop the command (EOF on its input).
func (t *task) requestStop() {
	t.stopped.Do(func() { close(t.stopReq) })
}

// finish waits for the command, stops it when ctx ends first, and turns
// what happened into a Result or an error that says what is known.
func (t *task) finish(ctx context.Context, what string) (Result, error) {
	var stop error
	select {
	case <-t.exited:
	case <-ctx.Done():
		stop = ctx.Err()
		t.requestStop()
		timer := time.NewTimer(stopWait)
		select {
		case <-t.exited:
		case <-timer.C:
			t.proc.abort()
			<-t.exited
		}
		timer.Stop()
	}
	// The feeder is done once the command is: it returns on exited.
	<-t.fed
	return t.outcome(stop, what)
}

// outcome interprets the end of the command. stop is the context error when
// tend asked for a stop; what names the stop ("timed out after 3s").
func (t *task) outcome(stop error, what string) (Result, error) {
	handed, pre, stderr, stopped := t.stderr.result()
	t.feedMu.Lock()
	wrongPw, pwErr := t.wrongPw, t.pwErr
	t.feedMu.Unlock()
	res := Result{ExitCode: t.exit.code, Stdout: t.stdout.Bytes(), Stderr: stderr}

	if t.waitErr != nil {
		if stop != nil {
			return res, &StopError{Why: what, Cause: t.r.lostError(t.waitErr)}
		}
		return res, t.r.lostError(t.waitErr)
	}
	switch {
	case pwErr != nil:
		return res, fmt.Errorf("become %s: getting the sudo password: %w", t.user, pwErr)
	case wrongPw:
		return res, fmt.Errorf("become %s: sudo rejected the password (incorrect password)", t.user)
	case !handed:
		if stop != nil {
			return res, &StopError{Why: what, Confirmed: true, Cause: stop}
		}
		return res, t.startError(pre)
	case stopped != "":
		why, ok := stopReasons[stopped]
		if !ok {
			why = stopped
		}
		if stop != nil {
			return res, &StopError{Why: what, Confirmed: true, Cause: stop}
		}
		return res, &StopError{Why: why, Confirmed: true, ByHost: true}
	case t.exit.signal != "":
		// The supervisor itself was killed: the command it ran (in a
		// session of its own) may still be running.
		return res, fmt.Errorf("the command's supervisor was killed by signal %s on the host: the command's outcome is unknown", t.exit.signal)
	case t.exit.code == 125 && bytes.HasPrefix(stderr, []byte("tend: ")):
		return res, fmt.Errorf("%s", strings.TrimSpace(string(stderr)))
	}
	// The command ended by itself, even if a stop was asked for in the
	// meantime: its outcome is known.
	return res, nil
}

// startError explains a command that never reached the supervisor: sudo
// refused, or the login shell could not run it.
func (t *task) startError(pre string) error {
	if !t.viaSudo {
		if pre == "" {
			pre = "no output"
		}
		return fmt.Errorf("the command did not start (exit %d): %s", t.exit.code, pre)
	}
	login := t.r.become.loginUser
	switch {
	case strings.Contains(pre, "a password is required"):
		return fmt.Errorf("%w (become %s as %s): set become_password_env (or become_password_prompt) in the inventory, or allow %s passwordless sudo (NOPASSWD) — unless %s may not use sudo at all", errSudoPasswordRequired, t.user, login, login, login)
	case strings.Contains(pre, "is not in the sudoers file"), strings.Contains(pre, "is not allowed to"), strings.Contains(pre, "may not run sudo"):
		return fmt.Errorf("become %s: %s may not use sudo for this (sudo: %s)", t.user, login, pre)
	}
	if pre == "" {
		pre = "no output"
	}
	return fmt.Errorf("become %s: sudo failed (exit %d): %s", t.user, t.exit.code, pre)
}

// lostError is the error of a command whose exit status never came.
func (r *runner) lostError(err error) error {
	e := &LostError{Reason: err.Error()}
	if r.lost != nil {
		gone, why := r.lost()
		e.ConnectionLost = gone
		if why != "" {
			e.Reason = why
		}
	}
	return e
}

// LostError is a command whose exit status never arrived: whether it ran to
// its end is unknown. It wraps ErrOutcomeUnknown, and ErrUnreachable when
// the connection is gone.
type LostError struct {
	Reason string
	// ConnectionLost is set when the connection itself is gone (not only
	// the command's channel).
	ConnectionLost bool
}

func (e *LostError) Error() string {
	if e.ConnectionLost {
		return "outcome unknown: the connection was lost while it ran (" + e.Reason + ")"
	}
	return "outcome unknown: its session on the host ended without an exit status (" + e.Reason + ")"
}

// Unwrap returns ErrOutcomeUnknown, and ErrUnreachable when the connection
// is gone.
func (e *LostError) Unwrap() []error {
	if e.ConnectionLost {
		return []error{ErrOutcomeUnknown, ErrUnreachable}
	}
	return []error{ErrOutcomeUnknown}
}

// run runs cmd to its end, within its timeout. Once ctx has ended, no
// command is started any more.
func (r *runner) run(ctx context.Context, cmd Command) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, &StopError{Why: "interrupted", NotStarted: true, Cause: err}
	}
	timeout := r.commandTimeout(cmd)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t, err := r.launch(cmd, false)
	if err != nil {
		return Result{}, err
	}
	what := "interrupted"
	res, err := t.finish(cctx, "")
	var se *StopError
	if errors.As(err, &se) && !se.ByHost {
		if errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			what = fmt.Sprintf("timed out after %s", timeout)
		}
		se.Why = what
	}
	return res, err
}

// Held is a command left running by Hold.
type Held struct {
	t       *task
	release sync.Once
	err     error
}

// hold starts cmd and returns once its standard output holds ready, which
// must come within the command's timeout (what it does before it is ready
// is bounded like any command: a slow guard in the state read, say).
func (r *runner) hold(ctx context.Context, cmd Command, ready string) (*Held, []byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, &StopError{Why: "interrupted", NotStarted: true, Cause: err}
	}
	t, err := r.launch(cmd, true)
	if err != nil {
		return nil, nil, err
	}
	timeout := r.commandTimeout(cmd)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-timer.C:
		tctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := t.finish(tctx, "")
		var se *StopError
		if errors.As(err, &se) {
			se.Why = fmt.Sprintf("timed out after %s", timeout)
			se.Cause = context.DeadlineExceeded
		} else if err == nil {
			err = fmt.Errorf("not ready after %s", timeout)
		}
		return nil, t.stdout.Bytes(), err
	case <-t.stdout.waitFor([]byte(ready)):
		return &Held{t: t}, t.stdout.Bytes(), nil
	case <-t.exited:
		<-t.fed
		res, err := t.outcome(nil, "")
		if err == nil {
			err = fmt.Errorf("ended (exit %d) before it was ready: %s", res.ExitCode, trimOutput(res.Stderr))
		}
		return nil, res.Stdout, err
	case <-ctx.Done():
		_, err := t.finish(ctx, "interrupted")
		var se *StopError
		if errors.As(err, &se) {
			se.Why = "interrupted"
		}
		if err == nil {
			err = ctx.Err()
		}
		return nil, t.stdout.Bytes(), err
	}
}

// Done is closed when the held command ends, asked to or not.
func (h *Held) Done() <-chan struct{} { return h.t.exited }

// Release stops the held command and waits (briefly) until the host
// confirms it ended. It returns nil when the host confirmed.
func (h *Held) Release() error {
	h.release.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := h.t.finish(ctx, "released")
		var se *StopError
		if errors.As(err, &se) && se.Confirmed && !se.ByHost {
			err = nil
		}
		h.err = err
	})
	return h.err
}

// Err reports why a held command ended without Release: nil while it runs.
func (h *Held) Err() error {
	select {
	case <-h.t.exited:
	default:
		return nil
	}
	<-h.t.fed
	res, err := h.t.outcome(nil, "")
	if err == nil {
		err = fmt.Errorf("ended (exit %d): %s", res.ExitCode, trimOutput(res.Stderr))
	}
	return err
}

// notifyBuffer is a bytes.Buffer safe for one writer and concurrent
// readers, which can wait for a marker to appear.
type notifyBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	waiters []bufWaiter
}

type bufWaiter struct {
	marker []byte
	ch     chan struct{}
}

func (b *notifyBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	kept := b.waiters[:0]
	for _, w := range b.waiters {
		if bytes.Contains(b.buf.Bytes(), w.marker) {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	b.waiters = kept
	return n, err
}

// Bytes returns a copy of what was written so far.
func (b *notifyBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// waitFor returns a channel closed once the buffer holds marker.
func (b *notifyBuffer) waitFor(marker []byte) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan struct{})
	if bytes.Contains(b.buf.Bytes(), marker) {
		close(ch)
	} else {
		b.waiters = append(b.waiters, bufWaiter{marker: marker, ch: ch})
	}
	return ch
}

// trimOutput shortens command output for an error message.
func trimOutput(b []byte) string {
	const max = 2000
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	if s == "" {
		return "no output"
	}
	return s
}
