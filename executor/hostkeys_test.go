package executor

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tend-sh/tend/executor/sshtest"
)

// hostCert returns a signer presenting a host certificate for principals,
// signed by ca.
func hostCert(t *testing.T, ca ssh.Signer, principals ...string) ssh.Signer {
	t.Helper()
	host, _, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{
		Key:             host.PublicKey(),
		CertType:        ssh.HostCert,
		KeyId:           "test host",
		ValidPrincipals: principals,
		ValidBefore:     ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewCertSigner(cert, host)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSSHHostKeyCertAuthority: a host presenting a certificate is trusted
// through a @cert-authority line for its address (or a wildcard), and
// refused when no such line names the certificate's signer.
func TestSSHHostKeyCertAuthority(t *testing.T) {
	ca, _, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	otherCA, _, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	env := newSSHEnv(t, sshtest.Options{HostKey: hostCert(t, ca, "127.0.0.1")})
	caLine := func(pattern string, k ssh.Signer) string {
		return "@cert-authority " + pattern + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.PublicKey())))
	}
	for _, tc := range []struct {
		name, content string
		wantErr       []string // empty: the connection succeeds
	}{
		{"address", caLine(knownhosts.Normalize(env.srv.Addr()), ca), nil},
		{"wildcard", caLine("127.0.0.*", ca), nil},
		{"other CA", caLine("*", otherCA), []string{"certificate", "@cert-authority", ssh.FingerprintSHA256(ca.PublicKey())}},
		{"wrong address", caLine("10.0.0.1", ca), []string{"certificate", "@cert-authority"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(kh, []byte(tc.content+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := env.config()
			cfg.KnownHostsFiles = []string{kh}
			c, err := DialSSH(context.Background(), cfg)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			if !errors.Is(err, ErrHostKey) {
				t.Fatalf("err = %v, want ErrHostKey", err)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
		})
	}
}

// TestSSHHostKeyHashed: hashed known_hosts entries (ssh-keygen -H) are
// matched, and a changed key is refused naming the hashed line.
func TestSSHHostKeyHashed(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	impostor, _, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	hashed := knownhosts.HashHostname(knownhosts.Normalize(env.srv.Addr()))
	for _, tc := range []struct {
		name    string
		key     ssh.PublicKey
		wantErr string
	}{
		{"known", env.srv.HostKey(), ""},
		{"changed", impostor.PublicKey(), "MISMATCH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			content := "# hashed\n" + knownhosts.Line([]string{hashed}, tc.key) + "\n"
			if err := os.WriteFile(kh, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := env.config()
			cfg.KnownHostsFiles = []string{kh}
			cfg.AcceptNewHostKeys = true // must not matter
			c, err := DialSSH(context.Background(), cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), kh+":2") {
				t.Fatalf("err = %v, want %s naming %s:2", err, tc.wantErr, kh)
			}
			if data, _ := os.ReadFile(kh); string(data) != content {
				t.Errorf("known_hosts changed: %q", data)
			}
		})
	}
}

// TestHostKeyDBParsedOnce: the files are parsed once and shared while they
// do not change; an accept-new append keeps the database (the new key is
// known without parsing again); a change by someone else parses again.
func TestHostKeyDBParsedOnce(t *testing.T) {
	env := newSSHEnv(t, sshtest.Options{})
	files := []string{env.knownHosts, filepath.Join(t.TempDir(), "absent")}
	first, err := loadHostKeyDB(files)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := loadHostKeyDB(files); again != first {
		t.Fatal("unchanged files parsed again")
	}

	// accept-new records a second host's key: same database, and a second
	// connection to that host is checked against it.
	other := newSSHEnv(t, sshtest.Options{})
	cfg := other.config()
	cfg.KnownHostsFiles = files
	cfg.AcceptNewHostKeys = true
	other.dial(t, cfg)
	if again, _ := loadHostKeyDB(files); again != first {
		t.Fatal("parsed again after this process's own append")
	}
	cfg.AcceptNewHostKeys = false
	other.dial(t, cfg)
	data, _ := os.ReadFile(env.knownHosts)
	if !strings.Contains(string(data), other.srv.KnownHostsLine()) {
		t.Fatalf("known_hosts lacks the accepted key:\n%s", data)
	}

	// Someone else edits the file: it is parsed again.
	if err := os.WriteFile(env.knownHosts, append(data, "# edited\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if again, _ := loadHostKeyDB(files); again == first {
		t.Fatal("a file changed by someone else was not parsed again")
	}
	other.dial(t, cfg)
}

// TestHostKeyDBIndex: the index of plain lines answers as the library's
// scan does (algorithms, accepted keys), and its lookups are not fooled by
// another host's key, a revoked key or a non-standard port.
func TestHostKeyDBIndex(t *testing.T) {
	ed, _, _ := sshtest.NewKey()
	ed2, _, _ := sshtest.NewKey()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, _ := ssh.NewSignerFromKey(ec)
	revoked, _, _ := sshtest.NewKey()
	line := func(hosts string, k ssh.Signer) string {
		return hosts + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.PublicKey())))
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	content := strings.Join([]string{
		"# plain lines only",
		line("web1,10.0.0.1", ed),
		line("web1", ecSigner),
		line("[web2]:2222", ed2),
		line("web3", revoked),
		"@revoked " + line("*", revoked),
		"not a valid line",
	}, "\n") + "\n"
	if err := os.WriteFile(kh, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := loadHostKeyDB([]string{kh})
	if err != nil {
		t.Fatal(err)
	}
	if d.general != 0 {
		t.Fatalf("general = %d, want 0", d.general)
	}
	for _, tc := range []struct {
		addr  string
		key   ssh.PublicKey
		known bool
	}{
		{"web1:22", ed.PublicKey(), true},
		{"web1:22", ecSigner.PublicKey(), true},
		{"10.0.0.1:22", ed.PublicKey(), true},
		{"10.0.0.1:22", ecSigner.PublicKey(), false},
		{"web1:2222", ed.PublicKey(), false},
		{"web2:2222", ed2.PublicKey(), true},
		{"web2:22", ed2.PublicKey(), false},
		{"web1:22", ed2.PublicKey(), false},
		{"web3:22", revoked.PublicKey(), false},
	} {
		if got := d.knownByPlainLine(tc.addr, tc.key); got != tc.known {
			t.Errorf("knownByPlainLine(%s, %s) = %v, want %v", tc.addr, tc.key.Type(), got, tc.known)
		}
		if got, want := d.plainAlgorithms(tc.addr), d.db.HostKeyAlgorithms(tc.addr); !slices.Equal(got, want) {
			t.Errorf("plainAlgorithms(%s) = %v, library says %v", tc.addr, got, want)
		}
		libErr := d.db.HostKeyCallback()(tc.addr, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}, tc.key)
		if (libErr == nil) != tc.known {
			t.Errorf("library check(%s, %s) = %v, index says known=%v", tc.addr, tc.key.Type(), libErr, tc.known)
		}
	}

	// A hashed line makes algorithms come from the library.
	if err := os.WriteFile(kh, []byte(content+knownhosts.Line([]string{knownhosts.HashHostname("web4")}, ed.PublicKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if d, err = loadHostKeyDB([]string{kh}); err != nil || d.general != 1 {
		t.Fatalf("general = %d, %v; want 1", d.general, err)
	}
}
