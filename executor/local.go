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
	"path/filepath"
	"strconv"
	"strings"
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
	// CommandTimeout bounds commands that set no Timeout of their own; zero
	// means no bound beyond the caller's context.
	CommandTimeout time.Duration
}

// localConn runs commands on the machine tend runs on.
type localConn struct {
	opts   LocalOptions
	host   string
	become *becomer

	roundTrips atomic.Int64
	commands   atomic.Int64
}

// NewLocal returns a connection to this machine: commands run with
// /bin/sh -c (through sudo for become, exactly as over SSH), files are
// written atomically, unix sockets are dialled directly.
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
		opts: opts,
		host: host,
		become: &becomer{
			host:      host,
			enabled:   opts.Become,
			user:      opts.BecomeUser,
			loginUser: login,
			password:  opts.BecomePassword,
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
	return runCommand(ctx, c.host, startLocal, c.become, cmd, c.opts.CommandTimeout)
}

// startLocal is the local starter: /bin/sh -c line in its own process group,
// so that cancelling stops the whole command, children included.
func startLocal(ctx context.Context, line string, stdout, stderr io.Writer) (io.WriteCloser, func() (int, error), error) {
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Without this, Wait would wait for grandchildren that keep the output
	// pipes open after the command was killed.
	cmd.WaitDelay = killGrace
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	// Stopping the command: SIGTERM to its process group first, SIGKILL
	// after killGrace (or as soon as the command is gone, for what it left
	// in its group). Through sudo, the group holds sudo but not the command
	// it runs as another user; sudo relays SIGTERM to it, while SIGKILL
	// would kill sudo alone and leave the command running.
	pgid := cmd.Process.Pid
	exited, stopped := make(chan struct{}), make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(stopped)
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		grace := time.NewTimer(killGrace)
		defer grace.Stop()
		select {
		case <-exited:
		case <-grace.C:
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
	wait := func() (int, error) {
		err := cmd.Wait()
		close(exited)
		if !stop() {
			<-stopped
		}
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			}
			return exitErr.ExitCode(), nil
		}
		if errors.Is(err, exec.ErrWaitDelay) {
			// The command exited; a leftover child held its output open.
			return cmd.ProcessState.ExitCode(), nil
		}
		if err != nil {
			return -1, err
		}
		return 0, nil
	}
	return stdin, wait, nil
}

// DialUnix implements Conn.
func (c *localConn) DialUnix(ctx context.Context, path string) (net.Conn, error) {
	c.roundTrips.Add(1)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("%s: dial unix socket %s: %w", c.host, path, err)
	}
	return conn, nil
}

// WriteFile implements Conn.
func (c *localConn) WriteFile(ctx context.Context, path string, data []byte, attrs FileAttrs) error {
	c.roundTrips.Add(1)
	if _, viaSudo := c.become.target(attrs.Become, "root"); viaSudo {
		return c.writePrivileged(ctx, path, data, attrs)
	}
	if err := writeLocalFile(path, data, attrs); err != nil {
		return fmt.Errorf("%s: write %s: %w", c.host, path, err)
	}
	return nil
}

// writePrivileged writes data to a private temporary file of the login user
// and moves it into place with one command through sudo.
func (c *localConn) writePrivileged(ctx context.Context, path string, data []byte, attrs FileAttrs) error {
	f, err := os.CreateTemp("", ".tend-upload-*")
	if err != nil {
		return fmt.Errorf("%s: write %s: %w", c.host, path, err)
	}
	src := f.Name()
	defer os.Remove(src) // the privileged script removes it too
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("%s: write %s: stage: %w", c.host, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: write %s: stage: %w", c.host, path, err)
	}
	res, err := c.Run(ctx, Command{Script: installScript(src, path, attrs), Become: true, BecomeUser: "root"})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: write %s: install failed (exit %d): %s", c.host, path, res.ExitCode, trimOutput(res.Stderr))
	}
	return nil
}

// writeLocalFile replaces path atomically: temporary file in the same
// directory (created exclusively), data, owner, mode, fsync, rename, and an
// fsync of the directory. On failure the temporary file is removed.
func writeLocalFile(path string, data []byte, attrs FileAttrs) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tend-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if attrs.Owner != "" || attrs.Group != "" {
		uid, gid, lerr := lookupLocalIDs(attrs.Owner, attrs.Group)
		if lerr != nil {
			return lerr
		}
		// chown before chmod: chown clears setuid and setgid bits.
		if err = f.Chown(uid, gid); err != nil {
			return err
		}
	}
	if err = syscall.Fchmod(int(f.Fd()), unixPerm(attrs.Mode)); err != nil {
		return &os.PathError{Op: "chmod", Path: tmp, Err: err}
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// lookupLocalIDs resolves owner and group names (or numeric ids) to ids; an
// empty name gives -1 (unchanged).
func lookupLocalIDs(owner, group string) (int, int, error) {
	uid, gid := -1, -1
	if owner != "" {
		if n, err := strconv.Atoi(owner); err == nil {
			uid = n
		} else {
			u, err := user.Lookup(owner)
			if err != nil {
				return 0, 0, fmt.Errorf("owner %q: %w", owner, err)
			}
			uid, _ = strconv.Atoi(u.Uid)
		}
	}
	if group != "" {
		if n, err := strconv.Atoi(group); err == nil {
			gid = n
		} else {
			g, err := user.LookupGroup(group)
			if err != nil {
				return 0, 0, fmt.Errorf("group %q: %w", group, err)
			}
			gid, _ = strconv.Atoi(g.Gid)
		}
	}
	return uid, gid, nil
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
