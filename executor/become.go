package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// This file holds the command runner shared by the SSH and the local
// connection, and privilege escalation with sudo. sudo wraps the command, not
// the transport: a connection only knows how to start a shell command line
// with three standard streams (a starter); everything about sudo, its
// password, markers and stdin gating lives here, once, for both.

// killGrace is how long a command being stopped (timeout or cancelled
// context) gets between SIGTERM and SIGKILL.
const killGrace = 2 * time.Second

// starter starts line (a shell command line) on the host, with stdout and
// stderr written to the given writers. It returns the command's standard
// input and a wait function that reports the exit code once the command is
// gone. Cancelling ctx must kill the command and make wait return.
type starter func(ctx context.Context, line string, stdout, stderr io.Writer) (stdin io.WriteCloser, wait func() (int, error), err error)

// becomer holds a connection's become settings.
type becomer struct {
	host string
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

// randomToken returns n random bytes in hex.
func randomToken(n int) string {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		panic("executor: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(buf)
}

// sudoLine returns the shell command line that runs script through sudo as
// user. The wrapped shell first prints okMarker on a line of its own to
// stderr, so the caller knows when sudo has handed over to the command. With
// a prompt marker, sudo reads the password from stdin (-S) and announces the
// need for it with the marker on stderr; without, sudo runs with -n and fails
// instead of asking. The password never appears on the command line.
func sudoLine(user, promptMarker, okMarker, script string) string {
	args := []string{"sudo", "-H"}
	if promptMarker != "" {
		args = append(args, "-S", "-p", promptMarker)
	} else {
		args = append(args, "-n")
	}
	wrapper := `printf '%s\n' ` + okMarker + ` >&2; exec /bin/sh -c "$1"`
	args = append(args, "-u", user, "--", "/bin/sh", "-c", wrapper, "sh", script)
	return "exec " + ShellJoin(args...)
}

// plainLine returns the shell command line that runs script with /bin/sh,
// whatever the login shell is.
func plainLine(script string) string {
	return "exec /bin/sh -c " + ShellQuote(script)
}

// becomeWatcher is the stderr writer of a command run through sudo. Until
// sudo hands over, it keeps what sudo wrote and reports password prompts;
// once the ok marker line passed, it keeps the command's own stderr.
type becomeWatcher struct {
	promptMarker string
	okLine       []byte

	mu       sync.Mutex
	pre      []byte // sudo's output before the handover
	post     []byte // the command's stderr
	handed   bool
	prompts  int // prompts announced so far
	promptCh chan struct{}
	okCh     chan struct{}
}

func newBecomeWatcher(promptMarker, okMarker string) *becomeWatcher {
	return &becomeWatcher{
		promptMarker: promptMarker,
		okLine:       []byte(okMarker + "\n"),
		promptCh:     make(chan struct{}, 8),
		okCh:         make(chan struct{}),
	}
}

// Write implements io.Writer.
func (w *becomeWatcher) Write(p []byte) (int, error) {
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

// result returns whether sudo handed over, sudo's own output (markers
// removed) and the command's stderr.
func (w *becomeWatcher) result() (handed bool, sudoOut string, stderr []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := string(w.pre)
	if w.promptMarker != "" {
		out = strings.ReplaceAll(out, w.promptMarker, "")
	}
	return w.handed, strings.TrimSpace(out), append([]byte(nil), w.post...)
}

// lockedBuffer is a bytes.Buffer safe for one writer and a concurrent reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// errSudoPasswordRequired is returned when sudo -n needs a password.
var errSudoPasswordRequired = errors.New("sudo requires a password")

// runCommand runs cmd with start, through sudo when b says so. It is the one
// implementation of Conn.Run for all connections.
func runCommand(ctx context.Context, host string, start starter, b *becomer, cmd Command, defaultTimeout time.Duration) (Result, error) {
	timeout := cmd.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	runCtx, kill := context.WithCancel(ctx)
	defer kill()

	user, viaSudo := b.target(cmd.Become, cmd.BecomeUser)
	stdout := &lockedBuffer{}
	if !viaSudo {
		stderr := &lockedBuffer{}
		stdin, wait, err := start(runCtx, plainLine(cmd.Script), stdout, stderr)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", host, err)
		}
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			feedStdin(stdin, cmd.Stdin)
		}()
		code, err := wait()
		settleFeeder(stdin, fed)
		if err != nil {
			return Result{}, commandError(ctx, host, timeout, err)
		}
		return Result{ExitCode: code, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, nil
	}

	token := randomToken(12)
	okMarker := "tend-become-ok-" + token
	promptMarker := ""
	if b.password != nil {
		promptMarker = "[tend-sudo-prompt-" + token + "]"
	}
	watcher := newBecomeWatcher(promptMarker, okMarker)
	stdin, wait, err := start(runCtx, sudoLine(user, promptMarker, okMarker, cmd.Script), stdout, watcher)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", host, err)
	}

	// The feeder answers sudo's prompt with the password, and forwards the
	// command's own stdin only once sudo has handed over to the command.
	var (
		feedMu      sync.Mutex
		wrongPw     bool
		passwordErr error
	)
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		prompts := 0
		for {
			select {
			case <-watcher.promptCh:
				prompts++
				if prompts > 1 {
					// sudo asks again: the password was wrong. Stop here
					// rather than let sudo wait for more attempts.
					feedMu.Lock()
					wrongPw = true
					feedMu.Unlock()
					stdin.Close()
					kill()
					return
				}
				pw, err := b.getPassword()
				if err != nil {
					feedMu.Lock()
					passwordErr = err
					feedMu.Unlock()
					stdin.Close()
					kill()
					return
				}
				if _, err := io.WriteString(stdin, pw+"\n"); err != nil {
					return
				}
			case <-watcher.okCh:
				feedStdin(stdin, cmd.Stdin)
				return
			case <-runCtx.Done():
				return
			}
		}
	}()

	code, waitErr := wait()
	kill() // releases a feeder still waiting for sudo
	settleFeeder(stdin, fed)
	handed, sudoOut, stderr := watcher.result()
	feedMu.Lock()
	wrong, pwErr := wrongPw, passwordErr
	feedMu.Unlock()

	switch {
	case pwErr != nil:
		return Result{}, fmt.Errorf("%s: become %s: getting the sudo password: %w", host, user, pwErr)
	case wrong:
		return Result{}, fmt.Errorf("%s: become %s: sudo rejected the password (incorrect password)", host, user)
	case waitErr != nil:
		return Result{}, commandError(ctx, host, timeout, waitErr)
	case !handed:
		if promptMarker == "" && strings.Contains(sudoOut, "password is required") {
			return Result{}, fmt.Errorf("%w on %s (become %s); set become_password_env (or become_password_prompt) in the inventory, or allow the login user passwordless sudo (NOPASSWD)", errSudoPasswordRequired, host, user)
		}
		if sudoOut == "" {
			sudoOut = "no output"
		}
		return Result{}, fmt.Errorf("%s: become %s: sudo failed (exit %d): %s", host, user, code, sudoOut)
	}
	return Result{ExitCode: code, Stdout: stdout.Bytes(), Stderr: stderr}, nil
}

// settleFeeder closes the finished command's stdin and waits (briefly: a
// Command.Stdin that blocks forever must not hang Run) for the goroutine
// feeding it, so that Run does not return while Command.Stdin is still read.
func settleFeeder(stdin io.Closer, fed <-chan struct{}) {
	stdin.Close()
	select {
	case <-fed:
	case <-time.After(2 * time.Second):
	}
}

// feedStdin copies r (if any) to stdin and closes it.
func feedStdin(stdin io.WriteCloser, r io.Reader) {
	if r != nil {
		_, _ = io.Copy(stdin, r)
	}
	stdin.Close()
}

// commandError turns a wait error into the error Run returns, naming a
// timeout as such.
func commandError(ctx context.Context, host string, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if timeout > 0 {
			return fmt.Errorf("%s: command timed out after %s: %w", host, timeout, context.DeadlineExceeded)
		}
		return fmt.Errorf("%s: command timed out: %w", host, context.DeadlineExceeded)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: command: %w", host, ctx.Err())
	}
	return fmt.Errorf("%s: command: %w", host, err)
}
