package executor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// localAs returns a local connection that believes it logged in as a
// non-root user, so become goes through (the fake) sudo.
func localAs(opts LocalOptions) *localConn {
	c := NewLocal(opts).(*localConn)
	c.runner.become.loginUser = "tend-login"
	return c
}

func TestSudoWords(t *testing.T) {
	line := commandLine(sudoWords("postgres", "[P]", []string{"/bin/sh", "-c", "echo 'hi'"}))
	want := `exec sudo -H -S -p '[P]' -u postgres -- /bin/sh -c 'echo '\''hi'\'''`
	if line != want {
		t.Errorf("sudo line:\n got %s\nwant %s", line, want)
	}
	if line := commandLine(sudoWords("root", "", []string{"true"})); !strings.Contains(line, "sudo -H -n -u root --") {
		t.Errorf("without a password sudo must run with -n: %s", line)
	}
}

func TestBecomeTarget(t *testing.T) {
	b := &becomer{enabled: true, loginUser: "deploy"}
	tests := []struct {
		become   bool
		user     string
		wantUser string
		wantSudo bool
	}{
		{false, "", "", false},
		{true, "", "root", true},
		{true, "app", "app", true},
		{true, "deploy", "deploy", false},
	}
	for _, tt := range tests {
		u, sudo := b.target(tt.become, tt.user)
		if u != tt.wantUser || sudo != tt.wantSudo {
			t.Errorf("target(%v, %q) = %q, %v; want %q, %v", tt.become, tt.user, u, sudo, tt.wantUser, tt.wantSudo)
		}
	}
	root := &becomer{enabled: true, loginUser: "root"}
	if _, sudo := root.target(true, ""); sudo {
		t.Error("root needs no sudo to become root")
	}
	off := &becomer{enabled: false, loginUser: "deploy"}
	if _, sudo := off.target(true, ""); sudo {
		t.Error("become on a connection without become must not use sudo")
	}
}

func TestLocalBecome(t *testing.T) {
	const password = "s3cret-pw-Zq9"
	ctx := context.Background()

	t.Run("password fed on prompt, stdin after handover", func(t *testing.T) {
		fake := installFakeSudo(t, password)
		fake.Setenv(t)
		c := localAs(LocalOptions{Become: true, BecomePassword: func() (string, error) { return password, nil }})
		out := filepath.Join(t.TempDir(), "stdin-copy")
		res, err := c.Run(ctx, Command{
			Script: "cat > " + ShellQuote(out) + "; echo to-stderr >&2; id -un",
			Input:  []byte("payload\n"),
			Become: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 || string(res.Stdout) != "root\n" || string(res.Stderr) != "to-stderr\n" {
			t.Errorf("result = %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "payload\n" {
			t.Errorf("command stdin = %q, want only the payload", got)
		}
		calls := fake.Argv(t)
		if len(calls) != 1 {
			t.Fatalf("sudo ran %d times, want 1", len(calls))
		}
		for _, a := range calls[0] {
			if strings.Contains(a, password) {
				t.Errorf("sudo argv holds the password: %q", calls[0])
			}
		}
		if !contains(calls[0], "-S") || !contains(calls[0], "-u") {
			t.Errorf("sudo argv = %q, want -S and -u", calls[0])
		}
	})

	t.Run("become user", func(t *testing.T) {
		fake := installFakeSudo(t, "")
		fake.Setenv(t)
		c := localAs(LocalOptions{Become: true, BecomeUser: "postgres"})
		if _, err := c.Run(ctx, Command{Script: "true", Become: true}); err != nil {
			t.Fatal(err)
		}
		if u, _ := os.ReadFile(filepath.Join(fake.Dir, "user")); string(u) != "postgres\n" {
			t.Errorf("became %q, want postgres", u)
		}
		if _, err := c.Run(ctx, Command{Script: "true", Become: true, BecomeUser: "www-data"}); err != nil {
			t.Fatal(err)
		}
		if u, _ := os.ReadFile(filepath.Join(fake.Dir, "user")); string(u) != "www-data\n" {
			t.Errorf("became %q, want www-data", u)
		}
	})

	t.Run("no password configured, sudo needs none", func(t *testing.T) {
		fake := installFakeSudo(t, "")
		fake.Setenv(t)
		c := localAs(LocalOptions{Become: true})
		res, err := c.Run(ctx, Command{Script: "echo ok; exit 4", Become: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 4 || string(res.Stdout) != "ok\n" || len(res.Stderr) != 0 {
			t.Errorf("result = %d %q %q", res.ExitCode, res.Stdout, res.Stderr)
		}
		if calls := fake.Argv(t); len(calls) != 1 || !contains(calls[0], "-n") {
			t.Errorf("sudo argv = %q, want -n", calls)
		}
	})

	t.Run("no password configured, sudo needs one", func(t *testing.T) {
		fake := installFakeSudo(t, password)
		fake.Setenv(t)
		c := localAs(LocalOptions{Host: "web1", Become: true})
		_, err := c.Run(ctx, Command{Script: "true", Become: true})
		if !errors.Is(err, errSudoPasswordRequired) || !strings.Contains(err.Error(), "sudo asks for a password") || !strings.Contains(err.Error(), "become_password_env") || !strings.Contains(err.Error(), "may not use sudo at all") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("cached credentials, no prompt", func(t *testing.T) {
		fake := installFakeSudo(t, password)
		fake.Setenv(t)
		if err := os.WriteFile(filepath.Join(fake.Dir, "cached"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		asked := false
		c := localAs(LocalOptions{Become: true, BecomePassword: func() (string, error) { asked = true; return password, nil }})
		res, err := c.Run(ctx, Command{Script: "cat", Input: []byte("data"), Become: true})
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Stdout) != "data" || asked {
			t.Errorf("stdout %q, password asked %v", res.Stdout, asked)
		}
	})

	t.Run("wrong password is an error, not a hang", func(t *testing.T) {
		fake := installFakeSudo(t, password)
		fake.Setenv(t)
		c := localAs(LocalOptions{Host: "web1", Become: true, BecomePassword: func() (string, error) { return "wrong-" + password, nil }})
		start := time.Now()
		_, err := c.Run(ctx, Command{Script: "echo never", Become: true, Timeout: 20 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "incorrect password") {
			t.Fatalf("err = %v, want an incorrect password error", err)
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("error holds the password: %v", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("wrong password took %s", d)
		}
	})

	t.Run("password source fails", func(t *testing.T) {
		fake := installFakeSudo(t, password)
		fake.Setenv(t)
		c := localAs(LocalOptions{Become: true, BecomePassword: func() (string, error) { return "", errors.New("no terminal") }})
		_, err := c.Run(ctx, Command{Script: "true", Become: true, Timeout: 20 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "no terminal") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("sudo fails for another reason", func(t *testing.T) {
		fake := installFakeSudo(t, "")
		fake.Setenv(t)
		// Replace the fake with one that refuses like a sudoers without the user.
		refuse := "#!/bin/sh\necho 'tend-login is not in the sudoers file.' >&2\nexit 1\n"
		if err := os.WriteFile(filepath.Join(fake.Bin, "sudo"), []byte(refuse), 0o755); err != nil {
			t.Fatal(err)
		}
		c := localAs(LocalOptions{Host: "web1", Become: true})
		_, err := c.Run(ctx, Command{Script: "true", Become: true})
		if err == nil || !strings.Contains(err.Error(), "not in the sudoers file") || !strings.Contains(err.Error(), "tend-login may not use sudo") || strings.Contains(err.Error(), "become_password_env") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("privileged write", func(t *testing.T) {
		fake := installFakeSudo(t, password)
		fake.Setenv(t)
		// Writes go as root even when commands default to another user.
		c := localAs(LocalOptions{Become: true, BecomeUser: "postgres", BecomePassword: func() (string, error) { return password, nil }})
		dir := t.TempDir()
		path := filepath.Join(dir, "unit.service")
		if err := WriteFile(ctx, c, path, []byte("[Unit]\n"), FileAttrs{Mode: 0o640, Owner: "daemon", Group: "daemon", Become: true}); err != nil {
			t.Fatal(err)
		}
		checkFile(t, path, "[Unit]\n", 0o640, userID(t, "daemon"), groupID(t, "daemon"))
		if l := litter(t, dir); len(l) != 0 {
			t.Errorf("temporary files left behind: %v", l)
		}
		if len(fake.Argv(t)) != 1 {
			t.Errorf("privileged write ran sudo %d times, want 1", len(fake.Argv(t)))
		}
		if u, _ := os.ReadFile(filepath.Join(fake.Dir, "user")); string(u) != "root\n" {
			t.Errorf("privileged write became %q, want root", u)
		}
		// A failing rename (the target is a directory) leaves it intact.
		sub := filepath.Join(dir, "sub")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(ctx, c, sub, []byte("x"), FileAttrs{Become: true}); err == nil {
			t.Fatal("privileged write over a directory succeeded")
		}
		if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
			t.Errorf("directory changed: %v", err)
		}
		if l := litter(t, dir); len(l) != 0 {
			t.Errorf("temporary files left behind: %v", l)
		}
		if ents, _ := os.ReadDir(sub); len(ents) != 0 {
			t.Errorf("write moved a file into the directory: %v", ents)
		}
		if left, _ := filepath.Glob(filepath.Join(os.TempDir(), ".tend-*")); len(left) != 0 {
			t.Errorf("temporary files left behind in %s: %v", os.TempDir(), left)
		}
	})
}

func TestStderrWatcherSplitWrites(t *testing.T) {
	w := newStderrWatcher("TOK", "[P]")
	input := "lecture\n[P]Sorry, try again.\n[P]tend-ok-TOK\nreal stderr\n\ntend-stop-TOK heartbeat\n"
	// Feed one byte at a time: markers split across writes must be found.
	for i := 0; i < len(input); i++ {
		w.Write([]byte{input[i]})
	}
	handed, sudoOut, stderr, stopped := w.result()
	if !handed || !bytes.Equal(stderr, []byte("real stderr\n")) || stopped != "heartbeat" {
		t.Errorf("handed %v stderr %q stopped %q", handed, stderr, stopped)
	}
	if strings.Contains(sudoOut, "[P]") || !strings.Contains(sudoOut, "Sorry") {
		t.Errorf("sudo output %q", sudoOut)
	}
	if n := len(w.promptCh); n != 2 {
		t.Errorf("%d prompts signalled, want 2", n)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
