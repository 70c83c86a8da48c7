package executor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/pkg/sftp"
)

// writeHook, when not nil, is called by the SFTP writes with the path of
// the temporary (or staged) file at each step: "created" right after the
// exclusive open, "write" just before the first byte of data is written.
// Tests set it to check the file's mode at those points; it is nil otherwise.
var writeHook func(step, tmp string)

// sftpClient opens the connection's SFTP session on first use.
func (c *sshConn) sftpClient() (*sftp.Client, error) {
	c.sftpMu.Lock()
	defer c.sftpMu.Unlock()
	if c.sftp != nil {
		return c.sftp, nil
	}
	c.roundTrips.Add(1)
	fail := func(err error) (*sftp.Client, error) {
		return nil, c.transportErr(fmt.Errorf("open SFTP session: %w", err))
	}
	sess, err := c.client.NewSession()
	if err != nil {
		return fail(err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return fail(err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return fail(err)
	}
	if err := sess.RequestSubsystem("sftp"); err != nil {
		sess.Close()
		return fail(err)
	}
	// Files the client creates are created 0600 (see openPermWriter).
	cl, err := sftp.NewClientPipe(stdout, &openPermWriter{w: stdin})
	if err != nil {
		sess.Close()
		return fail(err)
	}
	c.sftp, c.sftpSess = cl, sess
	return cl, nil
}

// sftpOp runs one SFTP request and counts it as a round trip.
func (c *sshConn) sftpOp(f func() error) error {
	c.roundTrips.Add(1)
	return f()
}

// WriteFile implements Conn. Without sudo the file is written over SFTP
// next to its destination and renamed over it (posix-rename); with sudo
// (become as a non-root login) it is staged privately in the login's home
// and moved into place by one privileged command.
func (c *sshConn) WriteFile(ctx context.Context, dest string, data []byte, attrs FileAttrs) error {
	if !path.IsAbs(dest) {
		return fmt.Errorf("%s: write %s: path must be absolute", c.cfg.Host, dest)
	}
	if _, viaSudo := c.become.target(attrs.Become, "root"); viaSudo {
		return c.writePrivileged(ctx, dest, data, attrs)
	}
	if err := c.writeSFTP(ctx, dest, data, attrs); err != nil {
		return fmt.Errorf("%s: write %s: %w", c.cfg.Host, dest, err)
	}
	return nil
}

// writeSFTP writes as the login user: exclusive temporary file in dest's
// directory (created 0600, and made 0600 again before any data is written),
// data, fsync (when the server supports it), owner, mode, a POSIX rename
// over dest and an fsync of the directory (syncDir). Any failure before the
// rename removes the temporary file.
func (c *sshConn) writeSFTP(ctx context.Context, dest string, data []byte, attrs FileAttrs) (err error) {
	cl, err := c.sftpClient()
	if err != nil {
		return err
	}
	uid, gid := -1, -1
	if attrs.Owner != "" || attrs.Group != "" {
		if uid, gid, err = c.lookupIDs(ctx, attrs.Owner, attrs.Group); err != nil {
			return err
		}
	}
	tmp := tempName(dest)
	var f *sftp.File
	if err := c.sftpOp(func() (err error) {
		f, err = cl.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		return err
	}); err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	if writeHook != nil {
		writeHook("created", tmp)
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				f.Close()
			}
			_ = c.sftpOp(func() error { return cl.Remove(tmp) })
		}
	}()
	// The server creates the file 0600 (openPermWriter); a server that
	// ignores the permissions of an open request creates it with its
	// default mode: make it private in any case before any data lands.
	if err := c.sftpOp(func() error { return f.Chmod(0o600) }); err != nil {
		return fmt.Errorf("chmod temporary file: %w", err)
	}
	if writeHook != nil {
		writeHook("write", tmp)
	}
	if err := c.sftpOp(func() error { _, err := f.Write(data); return err }); err != nil {
		return fmt.Errorf("write temporary file: %w", err)
	}
	if err := c.sftpOp(f.Sync); err != nil && !isUnsupported(err) {
		return fmt.Errorf("fsync temporary file: %w", err)
	}
	if uid >= 0 || gid >= 0 {
		if uid < 0 || gid < 0 {
			var fi fs.FileInfo
			if err := c.sftpOp(func() (err error) { fi, err = f.Stat(); return err }); err != nil {
				return fmt.Errorf("stat temporary file: %w", err)
			}
			if st, ok := fi.Sys().(*sftp.FileStat); ok {
				if uid < 0 {
					uid = int(st.UID)
				}
				if gid < 0 {
					gid = int(st.GID)
				}
			}
		}
		// chown before chmod: chown clears setuid and setgid bits.
		if err := c.sftpOp(func() error { return f.Chown(uid, gid) }); err != nil {
			return fmt.Errorf("chown temporary file: %w", err)
		}
	}
	if err := c.sftpOp(func() error { return f.Chmod(fs.FileMode(unixPerm(attrs.Mode))) }); err != nil {
		return fmt.Errorf("chmod temporary file: %w", err)
	}
	closed = true
	if err := c.sftpOp(f.Close); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if err := c.sftpOp(func() error { return cl.PosixRename(tmp, dest) }); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	c.syncDir(cl, path.Dir(dest))
	return nil
}

// syncDir flushes dir, so that a rename in it survives a crash, if the
// server offers fsync@openssh.com: it opens the directory, fsyncs the
// handle and closes it (three SFTP round trips). It is best effort, as for
// the local connection: the file is in place whatever it says. Without the
// extension (pkg/sftp's server, some appliances) nothing is done, and the
// rename may be lost in a crash (the old file then stays).
func (c *sshConn) syncDir(cl *sftp.Client, dir string) {
	if v, ok := cl.HasExtension("fsync@openssh.com"); !ok || v != "1" {
		return
	}
	var d *sftp.File
	if err := c.sftpOp(func() (err error) { d, err = cl.Open(dir); return err }); err != nil {
		return
	}
	_ = c.sftpOp(d.Sync)
	_ = c.sftpOp(d.Close)
}

// isUnsupported reports an SFTP "operation unsupported" status (a server
// without fsync@openssh.com).
func isUnsupported(err error) bool {
	var st *sftp.StatusError
	return errors.As(err, &st) && st.FxCode() == sftp.ErrSSHFxOpUnsupported
}

// homeDir returns the login user's home directory as the SFTP server
// reports it (its initial working directory).
func (c *sshConn) homeDir(cl *sftp.Client) (string, error) {
	c.sftpMu.Lock()
	home := c.home
	c.sftpMu.Unlock()
	if home != "" {
		return home, nil
	}
	if err := c.sftpOp(func() (err error) { home, err = cl.Getwd(); return err }); err != nil {
		return "", err
	}
	c.sftpMu.Lock()
	c.home = home
	c.sftpMu.Unlock()
	return home, nil
}

// writePrivileged stages data in a private file (created 0600, and made
// 0600 again before any data is written) in the login user's home over SFTP
// and moves it into place with one privileged command.
func (c *sshConn) writePrivileged(ctx context.Context, dest string, data []byte, attrs FileAttrs) error {
	fail := func(step string, err error) error {
		return fmt.Errorf("%s: write %s: %s: %w", c.cfg.Host, dest, step, err)
	}
	cl, err := c.sftpClient()
	if err != nil {
		return fail("stage", err)
	}
	home, err := c.homeDir(cl)
	if err != nil {
		return fail("stage", err)
	}
	src := path.Join(home, ".tend-upload-"+randomToken(8))
	var f *sftp.File
	if err := c.sftpOp(func() (err error) {
		f, err = cl.OpenFile(src, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		return err
	}); err != nil {
		return fail("stage", err)
	}
	if writeHook != nil {
		writeHook("created", src)
	}
	removeSrc := func() { _ = c.sftpOp(func() error { return cl.Remove(src) }) }
	// Private before any byte is written.
	if err := c.sftpOp(func() error { return f.Chmod(0o600) }); err != nil {
		f.Close()
		removeSrc()
		return fail("stage", err)
	}
	if writeHook != nil {
		writeHook("write", src)
	}
	if err := c.sftpOp(func() error { _, err := f.Write(data); return err }); err != nil {
		f.Close()
		removeSrc()
		return fail("stage", err)
	}
	if err := c.sftpOp(f.Close); err != nil {
		removeSrc()
		return fail("stage", err)
	}
	res, err := c.Run(ctx, Command{Script: installScript(src, dest, attrs), Become: true, BecomeUser: "root"})
	if err != nil {
		// sudo never ran the script, which would have removed src.
		removeSrc()
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if res.ExitCode != 0 {
		return fail("install", fmt.Errorf("exit %d: %s", res.ExitCode, trimOutput(res.Stderr)))
	}
	return nil
}

// lookupIDs resolves owner and group names to numeric ids on the host with
// one command (cached per connection); empty names give -1.
func (c *sshConn) lookupIDs(ctx context.Context, owner, group string) (int, int, error) {
	uid, gid := -1, -1
	var script []string
	c.idsMu.Lock()
	if owner != "" {
		if n, err := strconv.Atoi(owner); err == nil {
			uid = n
		} else if id, ok := c.ids["u:"+owner]; ok {
			uid = id
		} else {
			script = append(script, "printf 'u %s\\n' \"$(id -u -- "+ShellQuote(owner)+" 2>/dev/null)\"")
		}
	}
	if group != "" {
		if n, err := strconv.Atoi(group); err == nil {
			gid = n
		} else if id, ok := c.ids["g:"+group]; ok {
			gid = id
		} else {
			script = append(script, "printf 'g %s\\n' \"$(getent group -- "+ShellQuote(group)+" | cut -d: -f3)\"")
		}
	}
	c.idsMu.Unlock()
	if len(script) == 0 {
		return uid, gid, nil
	}
	res, err := c.Run(ctx, Command{Script: strings.Join(script, "\n")})
	if err != nil {
		return 0, 0, fmt.Errorf("look up owner and group: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(res.Stdout))
	for sc.Scan() {
		kind, value, _ := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(value)
		switch {
		case kind == "u" && err != nil:
			return 0, 0, fmt.Errorf("owner %q does not exist on %s", owner, c.cfg.Host)
		case kind == "g" && err != nil:
			return 0, 0, fmt.Errorf("group %q does not exist on %s", group, c.cfg.Host)
		case kind == "u":
			uid = n
			c.idsMu.Lock()
			c.ids["u:"+owner] = n
			c.idsMu.Unlock()
		case kind == "g":
			gid = n
			c.idsMu.Lock()
			c.ids["g:"+group] = n
			c.idsMu.Unlock()
		}
	}
	if (owner != "" && uid < 0) || (group != "" && gid < 0) {
		return 0, 0, fmt.Errorf("look up owner %q and group %q: unexpected output %q", owner, group, res.Stdout)
	}
	return uid, gid, nil
}
