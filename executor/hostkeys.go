package executor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DefaultKnownHostsFile is ~/.ssh/known_hosts, the file DialSSH consults
// when SSHConfig.KnownHostsFiles is empty. Callers that add a file of their
// own and still want the user's file consulted list both.
func DefaultKnownHostsFile() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".ssh", "known_hosts"), nil
}

// hostKeyError is a refused host key. It wraps ErrHostKey (and so
// ErrUnreachable).
type hostKeyError struct{ msg string }

func (e *hostKeyError) Error() string { return e.msg }
func (e *hostKeyError) Unwrap() error { return ErrHostKey }

// knownHostsAppendMu serialises appends to known_hosts files by concurrent
// connections of this process.
var knownHostsAppendMu sync.Mutex

// hostKeyChecker verifies host keys against OpenSSH known_hosts files.
type hostKeyChecker struct {
	files     []string // all files consulted, first = the one appended to
	existing  []string // those that exist
	acceptNew bool
	db        ssh.HostKeyCallback // nil when no file exists
	// err is the last refusal, kept because the SSH library flattens it.
	err error
}

func newHostKeyChecker(files []string, acceptNew bool) (*hostKeyChecker, error) {
	c := &hostKeyChecker{files: files, acceptNew: acceptNew}
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			c.existing = append(c.existing, f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("known hosts file %s: %w", f, err)
		}
	}
	if len(c.existing) > 0 {
		db, err := knownhosts.New(c.existing...)
		if err != nil {
			return nil, fmt.Errorf("known hosts: %w", err)
		}
		c.db = db
	}
	return c, nil
}

// probeKey is a public key no host has: checking it reveals the keys known
// for an address (knownhosts reports them all in a KeyError).
type probeKey struct{}

func (probeKey) Type() string                             { return "tend-probe@invalid" }
func (probeKey) Marshal() []byte                          { return []byte("\x00\x00\x00\x12tend-probe@invalid") }
func (probeKey) Verify([]byte, *ssh.Signature) error      { return errors.New("probe key") }
func (probeKey) String() string                           { return "probe" }
func (probeKey) MarshalAuthorizedKey() string             { return "" }
func (probeKey) VerifyWithAlgorithm([]byte, string) error { return errors.New("probe key") }

// knownKeys returns the keys known for addr (host:port).
func (c *hostKeyChecker) knownKeys(addr string) []knownhosts.KnownKey {
	if c.db == nil {
		return nil
	}
	remote := &net.TCPAddr{IP: net.IPv4zero, Port: 22}
	err := c.db(addr, remote, probeKey{})
	var ke *knownhosts.KeyError
	if errors.As(err, &ke) {
		return ke.Want
	}
	return nil
}

// algorithms returns the host key algorithms to offer for addr: those of
// the keys known for it, so that a host known by its ed25519 key is not
// refused because it offered its RSA key first. Nil (the library's
// defaults) when no key is known.
func (c *hostKeyChecker) algorithms(addr string) []string {
	var algos []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			algos = append(algos, a)
		}
	}
	for _, k := range c.knownKeys(addr) {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
			add(ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}

// callback is the ssh.HostKeyCallback for one connection.
func (c *hostKeyChecker) callback(host, addr string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := c.check(host, addr, hostname, remote, key)
		c.err = err
		return err
	}
}

func (c *hostKeyChecker) check(host, addr, hostname string, remote net.Addr, key ssh.PublicKey) error {
	fp := ssh.FingerprintSHA256(key)
	var err error
	if c.db != nil {
		err = c.db(hostname, remote, key)
		if err == nil {
			return nil
		}
	} else {
		err = &knownhosts.KeyError{}
	}
	var revoked *knownhosts.RevokedError
	if errors.As(err, &revoked) {
		return &hostKeyError{fmt.Sprintf("the host key %s %s is marked @revoked in %s:%d; refusing to connect",
			key.Type(), fp, revoked.Revoked.Filename, revoked.Revoked.Line)}
	}
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return &hostKeyError{fmt.Sprintf("checking the host key: %v", err)}
	}
	if len(ke.Want) > 0 {
		var known []string
		for _, w := range ke.Want {
			known = append(known, fmt.Sprintf("%s:%d (%s %s)", w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key)))
		}
		first := ke.Want[0]
		return &hostKeyError{fmt.Sprintf(
			"WARNING: HOST KEY MISMATCH for %s: the host offered %s key %s, which does not match the key known for it at %s. "+
				"Someone may be intercepting the connection (man-in-the-middle), or the host was reinstalled. Refusing to connect, "+
				"whatever --accept-new-host-keys says. If the change is expected, remove the old key (ssh-keygen -R %s -f %s) and connect again.",
			host, key.Type(), fp, strings.Join(known, ", "), knownhosts.Normalize(addr), first.Filename)}
	}
	// Unknown host.
	if !c.acceptNew {
		h, port, _ := net.SplitHostPort(addr)
		return &hostKeyError{fmt.Sprintf(
			"unknown host key %s %s for %s; refusing to connect. Verify the fingerprint, then run again with --accept-new-host-keys, "+
				"or add the key yourself: ssh-keyscan -p %s %s >> %s",
			key.Type(), fp, knownhosts.Normalize(addr), port, h, c.appendFile())}
	}
	if err := c.appendKey(addr, key); err != nil {
		return &hostKeyError{fmt.Sprintf("recording the new host key %s %s: %v", key.Type(), fp, err)}
	}
	return nil
}

func (c *hostKeyChecker) appendFile() string {
	if len(c.files) == 0 {
		return "~/.ssh/known_hosts"
	}
	return c.files[0]
}

// appendKey appends an OpenSSH known_hosts line for addr to the first known
// hosts file, creating it (0600, directory 0700) if needed.
func (c *hostKeyChecker) appendKey(addr string, key ssh.PublicKey) error {
	if len(c.files) == 0 {
		return errors.New("no known hosts file configured")
	}
	file := c.files[0]
	knownHostsAppendMu.Lock()
	defer knownHostsAppendMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	// Keep the file line-oriented if its last line lacks a newline.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		return err
	}
	return f.Sync()
}
