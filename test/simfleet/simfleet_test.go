package simfleet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/executor/sshtest"
)

// dial connects to addr as tend does, trusting hostKey.
func dial(t *testing.T, addr string, hostKey ssh.PublicKey) executor.Conn {
	t.Helper()
	dir := t.TempDir()
	c, err := WriteClient(dir, []string{addr}, hostKey)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(addr, ":")
	var p int
	for _, ch := range port {
		p = p*10 + int(ch-'0')
	}
	t.Setenv("HOME", dir)
	conn, err := executor.DialSSH(context.Background(), executor.SSHConfig{
		Host: "sim", Address: host, Port: p, User: "u",
		IdentityFiles: []string{c.Key}, AgentSocket: "none",
		KnownHostsFiles: []string{c.KnownHosts}, ConnectTimeout: 5 * time.Second,
		StateDir: "/nonexistent/tend-state",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// exercise runs a plain command (with a per-run value, a time), one with
// data, and a held one.
func exercise(t *testing.T, conn executor.Conn, now string) {
	t.Helper()
	ctx := context.Background()
	res, err := conn.Run(ctx, executor.Command{Script: "echo out " + now + "; echo err >&2; exit 3"})
	if err != nil || res.ExitCode != 3 || string(res.Stdout) != "out "+now+"\n" || string(res.Stderr) != "err\n" {
		t.Fatalf("Run = %+v (%q, %q), %v", res, res.Stdout, res.Stderr, err)
	}
	res, err = conn.Run(ctx, executor.Command{Script: "cat; echo", Input: []byte("data")})
	if err != nil || string(res.Stdout) != "data\n" {
		t.Fatalf("Run with input = %+v, %v", res, err)
	}
	held, out, err := conn.Hold(ctx, executor.Command{Script: "echo 0123456789abcdef0123 ready; exec sleep 60"}, "ready\n")
	if err != nil || string(out) != "0123456789abcdef0123 ready\n" {
		t.Fatalf("Hold = %q, %v", out, err)
	}
	select {
	case <-held.Done():
		t.Fatalf("the held command ended before it was released: %v", held.Err())
	case <-time.After(300 * time.Millisecond):
	}
	if err := held.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

// TestRecordAndReplay: the proxy records what a host (here an in-process
// server running the commands) answers, and a simulated host answers the
// same commands the same way from the recording, held ones included.
func TestRecordAndReplay(t *testing.T) {
	upKey, _, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	up := sshtest.New(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{upKey.PublicKey()}, Dir: t.TempDir()})
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(up.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := StartProxy(up.Addr(), "u", upKey, kh)
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, dial(t, p.Addr, p.HostKey), "1733000000")
	rec := p.Close()
	if len(rec.Exchanges) != 3 || !rec.Exchanges[2].UntilEOF || rec.Exchanges[0].UntilEOF {
		t.Fatalf("recorded %+v", rec.Exchanges)
	}
	if !strings.Contains(rec.Exchanges[0].Script, "echo out ⟨0⟩") {
		t.Errorf("time not normalised: %q", rec.Exchanges[0].Script)
	}

	f, err := Start(Options{Hosts: 2, Recording: rec, Net: "127.77.200", Port: 2299})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, a := range f.Addrs {
		// Another run: another time, answered with it.
		exercise(t, dial(t, a, f.HostKey), "1733000099")
	}
	if f.Misses() != 0 {
		t.Errorf("%d misses", f.Misses())
	}
	// An unrecorded command fails on the host.
	res, err := dial(t, f.Addrs[0], f.HostKey).Run(context.Background(), executor.Command{Script: "echo other"})
	if err != nil || res.ExitCode != 125 || f.Misses() != 1 {
		t.Errorf("unrecorded command: %+v, %v, %d misses", res, err, f.Misses())
	}
}

// TestKeyExchangesOfTheRecordedHost: a simulated host negotiates what the
// recorded Debian 12 sshd does with tend (curve25519-sha256), and refuses
// ML-KEM, which that sshd does not offer.
func TestKeyExchangesOfTheRecordedHost(t *testing.T) {
	f, err := Start(Options{Hosts: 1, Recording: &Recording{}, Net: "127.77.201", Port: 2298})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	key, _, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	try := func(kex ...string) error {
		c, err := ssh.Dial("tcp", f.Addrs[0], &ssh.ClientConfig{
			User: "u", Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
			HostKeyCallback: ssh.FixedHostKey(f.HostKey), Timeout: 5 * time.Second,
			Config: ssh.Config{KeyExchanges: kex},
		})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := try(ssh.KeyExchangeCurve25519); err != nil {
		t.Errorf("curve25519-sha256: %v", err)
	}
	if err := try(ssh.KeyExchangeMLKEM768X25519); err == nil {
		t.Error("mlkem768x25519-sha256 was negotiated; the recorded sshd (OpenSSH 9.2) has no ML-KEM")
	}
}
