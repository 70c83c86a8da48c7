package executor

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pkg/sftp"

	"github.com/tend-sh/tend/executor/sshtest"
)

// recordWriteModes sets writeHook for the test and returns a function that
// reports the mode the temporary file had at each step, in order.
func recordWriteModes(t *testing.T) func() []string {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	writeHook = func(step, tmp string) {
		mode := "error"
		if fi, err := os.Stat(tmp); err == nil {
			mode = fi.Mode().Perm().String()
		} else {
			t.Errorf("%s: stat %s: %v", step, tmp, err)
		}
		mu.Lock()
		seen = append(seen, step+" "+mode)
		mu.Unlock()
	}
	t.Cleanup(func() { writeHook = nil })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// The temporary file of an SFTP write (and the staged file of a privileged
// write) is private from the moment it exists: nobody else can open it
// while it is empty and keep the descriptor to read the data later, and no
// data is written while it is readable by others.
func TestSSHWriteFileTemporaryFileIsPrivate(t *testing.T) {
	const private = "-rw-------"
	for _, tt := range []struct {
		name   string
		become bool
		mode   fs.FileMode
		// ignorePerms acts like a server that ignores the permissions of
		// open requests: the file is created with the server's default
		// mode, and must still be private before data is written.
		ignorePerms bool
	}{
		{name: "sftp", mode: 0o640},
		{name: "sftp default mode"},
		{name: "sftp, server ignores open permissions", mode: 0o644, ignorePerms: true},
		{name: "staged for sudo", become: true, mode: 0o644},
		{name: "staged for sudo, server ignores open permissions", become: true, ignorePerms: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var opts sshtest.Options
			if tt.become {
				fake := installFakeSudo(t, "")
				opts.Env = append(fake.Env(), "FAKESUDO_LOGIN=deploy")
			}
			env := newSSHEnv(t, opts)
			cfg := env.config()
			if tt.become {
				cfg.User, cfg.Become = "deploy", true
			}
			c := env.dial(t, cfg)
			if tt.ignorePerms {
				sftpCreatePermissions = 0
				t.Cleanup(func() { sftpCreatePermissions = 0o600 })
			}
			modes := recordWriteModes(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "secret.env")
			if err := c.WriteFile(context.Background(), path, []byte("TOKEN=s3cret\n"), FileAttrs{Mode: tt.mode, Become: tt.become}); err != nil {
				t.Fatal(err)
			}
			checkFile(t, path, "TOKEN=s3cret\n", unixPerm(tt.mode), 0, 0)
			got := modes()
			if len(got) != 2 || !strings.HasPrefix(got[0], "created ") || got[1] != "write "+private {
				t.Fatalf("temporary file modes %q, want it created, then %s when data is written", got, private)
			}
			if !tt.ignorePerms && got[0] != "created "+private {
				t.Errorf("temporary file created %s, want %s from the start", strings.TrimPrefix(got[0], "created "), private)
			}
			for _, d := range []string{dir, env.loginHome} {
				if l := litter(t, d); len(l) != 0 {
					t.Errorf("%s: temporary files left behind: %v", d, l)
				}
			}
		})
	}
}

// sftpPacket frames an SFTP packet: length, type, body.
func sftpPacket(typ byte, body ...[]byte) []byte {
	b := []byte{0, 0, 0, 0, typ}
	for _, part := range body {
		b = append(b, part...)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func u32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

func sftpString(s string) []byte { return append(u32(uint32(len(s))), s...) }

// nopCloser is a bytes.Buffer with a Close method.
type nopCloser struct{ bytes.Buffer }

func (*nopCloser) Close() error { return nil }

func TestOpenPermWriter(t *testing.T) {
	const create = 0x08 | 0x02 | 0x20 // SSH_FXF_CREAT|WRITE|EXCL
	open := sftpPacket(3, u32(7), sftpString("/etc/app/.tend-1.tmp"), u32(create), u32(0))
	openPrivate := sftpPacket(3, u32(7), sftpString("/etc/app/.tend-1.tmp"), u32(create), u32(0x4), u32(0o600))
	openWithMode := sftpPacket(3, u32(8), sftpString("x"), u32(create), u32(0x4), u32(0o640))
	write := sftpPacket(6, u32(9), sftpString("handle"), make([]byte, 8), sftpString(string(open)))
	init := sftpPacket(1, u32(3))
	tests := []struct {
		name    string
		in, out [][]byte
	}{
		{"open without attributes gets 0600", [][]byte{open}, [][]byte{openPrivate}},
		{"open with a mode is kept", [][]byte{openWithMode}, [][]byte{openWithMode}},
		{"other packets are kept (even holding open's bytes)", [][]byte{init, write}, [][]byte{init, write}},
		{"a stream of packets", [][]byte{init, open, write, openWithMode, open}, [][]byte{init, openPrivate, write, openWithMode, openPrivate}},
	}
	for _, tt := range tests {
		in := bytes.Join(tt.in, nil)
		want := bytes.Join(tt.out, nil)
		// Whole, then split at every offset (header and payload arrive in
		// separate writes), then byte by byte.
		for split := 0; split <= len(in); split++ {
			var out nopCloser
			w := &openPermWriter{w: &out}
			for _, part := range [][]byte{in[:split], in[split:]} {
				if n, err := w.Write(part); n != len(part) || err != nil {
					t.Fatalf("%s: Write = %d, %v", tt.name, n, err)
				}
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("%s (split at %d):\n got %x\nwant %x", tt.name, split, out.Bytes(), want)
			}
		}
		var out nopCloser
		w := &openPermWriter{w: &out}
		for i := range in {
			w.Write(in[i : i+1])
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s (byte by byte):\n got %x\nwant %x", tt.name, out.Bytes(), want)
		}
	}
}

// OpenSSH's sftp-server creates the file with the permissions the rewritten
// open request carries (and, without the rewrite, with its default mode).
func TestOpenPermWriterOpenSSH(t *testing.T) {
	const server = "/usr/lib/openssh/sftp-server"
	if _, err := os.Stat(server); err != nil {
		t.Skipf("OpenSSH's sftp-server is not installed (%v)", err)
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		name    string
		rewrite bool
		private bool
	}{
		{"unchanged", false, false},
		{"rewritten", true, true},
	} {
		cmd := exec.Command("/bin/sh", "-c", "umask 022; exec "+server)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var w io.WriteCloser = stdin
		if tt.rewrite {
			w = &openPermWriter{w: stdin}
		}
		cl, err := sftp.NewClientPipe(stdout, w)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
		f, err := cl.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		cl.Close()
		cmd.Wait()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if private := fi.Mode().Perm()&0o077 == 0; private != tt.private {
			t.Errorf("%s: created with mode %s, private %v, want %v", tt.name, fi.Mode().Perm(), private, tt.private)
		}
	}
}
