package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// LocalOptions configure the local connection (NewLocal).
type LocalOptions struct {
	// Host names the connection in messages; "localhost" when empty.
	Host string
	// Become lets commands and writes that ask for it run through sudo.
	Become bool
	// BecomeUser is the default user to become; root when empty.
	BecomeUser string
	// BecomePassword returns the sudo password. Nil means no password is
	// configured: sudo runs with -n and fails clearly if it needs one. It is
	// called at most once per connection, only when sudo asks.
	BecomePassword func() (string, error)
	// CommandTimeout bounds commands that set no Timeout of their own;
	// DefaultCommandTimeout when zero.
	CommandTimeout time.Duration
	// StateDir is tend's state directory (see SSHConfig.StateDir).
	StateDir string
}

// localConn runs commands on the machine tend runs on.
type localConn struct {
	host   string
	runner *runner

	roundTrips atomic.Int64
	commands   atomic.Int64
}

// NewLocal returns a connection to this machine: commands run under the
// same supervisor and through sudo for become exactly as over SSH, and
// unix sockets are dialled directly.
func NewLocal(opts LocalOptions) Conn {
	host := opts.Host
	if host == "" {
		host = "localhost"
	}
	login := ""
	if u, err := user.Current(); err == nil {
		login = u.Username
	} else {
		login = os.Getenv("USER")
	}
	return &localConn{
		host: host,
		runner: &runner{
			start: startLocal,
			become: &becomer{
				enabled:   opts.Become,
				user:      opts.BecomeUser,
				loginUser: login,
				password:  opts.BecomePassword,
			},
			timeout:  opts.CommandTimeout,
			stateDir: opts.StateDir,
		},
	}
}

// Host implements Conn.
func (c *localConn) Host() string { return c.host }

// Stats implements Conn.
func (c *localConn) Stats() Stats {
	return Stats{RoundTrips: int(c.roundTrips.Load()), Commands: int(c.commands.Load())}
}

// Close implements Conn; the local connection holds nothing open.
func (c *localConn) Close() error { return nil }

// Run implements Conn.
func (c *localConn) Run(ctx context.Context, cmd Command) (Result, error) {
	c.roundTrips.Add(1)
	c.commands.Add(1)
	return c.runner.run(ctx, cmd)
}

// Hold implements Conn.
func (c *localConn) Hold(ctx context.Context, cmd Command, ready string) (*Held, []byte, error) {
	c.roundTrips.Add(1)
	c.commands.Add(1)
	return c.runner.hold(ctx, cmd, ready)
}

// startLocal is the local starter: /bin/sh -c line in its own process
// group. The supervisor stops the command when its standard input closes,
// which wait does as soon as the supervisor exits; abort kills the whole
// group as well.
func startLocal(line string, stdout, stderr io.Writer) (proc, error) {
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The output goes through pipes of our own, not exec's copying: Wait
	// then returns when the process exits, not when every process that
	// inherited its output (what the command left running) closed it.
	var readEnds, writeEnds []*os.File
	for range 2 {
		r, w, err := os.Pipe()
		if err != nil {
			for _, f := range append(readEnds, writeEnds...) {
				f.Close()
			}
			return nil, err
		}
		readEnds, writeEnds = append(readEnds, r), append(writeEnds, w)
	}
	cmd.Stdout, cmd.Stderr = writeEnds[0], writeEnds[1]
	in, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	for _, w := range writeEnds {
		w.Close()
	}
	if err != nil {
		for _, r := range readEnds {
			r.Close()
		}
		return nil, err
	}
	p := &localProc{cmd: cmd, in: in, outputDone: make(chan struct{}), readEnds: readEnds}
	var copies sync.WaitGroup
	for i, w := range []io.Writer{stdout, stderr} {
		copies.Add(1)
		go func() {
			defer copies.Done()
			_, _ = io.Copy(w, readEnds[i])
		}()
	}
	go func() {
		copies.Wait()
		close(p.outputDone)
	}()
	return p, nil
}

// localProc is a command line running on this machine.
type localProc struct {
	cmd        *exec.Cmd
	in         io.WriteCloser
	closeOnce  sync.Once
	outputDone chan struct{}
	readEnds   []*os.File
}

func (p *localProc) stdin() io.Writer { return p.in }

func (p *localProc) closeStdin() { p.closeOnce.Do(func() { p.in.Close() }) }

func (p *localProc) abort() {
	p.closeStdin()
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

func (p *localProc) wait() (exitStatus, error) {
	err := p.cmd.Wait()
	// The supervisor is gone: its watcher must see EOF at once (it stops
	// the command if the supervisor could not).
	p.closeStdin()
	grace := time.NewTimer(outputGrace)
	select {
	case <-p.outputDone:
	case <-grace.C:
	}
	grace.Stop()
	for _, r := range p.readEnds {
		r.Close()
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return exitStatus{}, nil
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitStatus{code: 128 + int(ws.Signal()), signal: signalName(int(ws.Signal()))}, nil
		}
		return exitStatus{code: exitErr.ExitCode()}, nil
	}
	return exitStatus{code: -1}, err
}

// DialUnix implements Conn.
func (c *localConn) DialUnix(ctx context.Context, path string) (net.Conn, error) {
	c.roundTrips.Add(1)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("dial unix socket %s: %w", path, err)
	}
	return conn, nil
}
