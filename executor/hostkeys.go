package executor

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
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

// hostKeyDB is the parsed content of a list of known_hosts files: one
// shared, immutable skeema/knownhosts database that every connection of the
// run consults, so that a fleet of N hosts costs one parse, not N. db is nil
// when none of the files exists.
type hostKeyDB struct {
	files    []string // all files consulted, first = the one appended to
	existing []string // those that exist
	stamps   []fileStamp
	db       *knownhosts.HostKeyDB
	// index holds the keys of the plain lines (host or [host]:port
	// patterns, no marker), by normalised address, so that the common case
	// — a host known by a plain line — costs a map lookup, not a scan of
	// every line (the library's lookups are linear: a fleet of N hosts
	// would cost N² pattern matches). general counts the other lines
	// (hashed, wildcard, negated, @cert-authority): when there are any,
	// algorithms come from the library's scan. revoked holds the keys of
	// @revoked lines.
	index   map[string][]xknownhosts.KnownKey
	general int
	revoked map[string]bool
	// accepted are the keys recorded by accept-new since the files were
	// parsed (normalised address → key), which the parsed database does not
	// hold.
	acceptedMu sync.RWMutex
	accepted   map[string]ssh.PublicKey
}

// fileStamp identifies a version of a file: a changed file is parsed again.
type fileStamp struct {
	exists  bool
	size    int64
	modTime int64
}

func stampOf(file string) (fileStamp, error) {
	fi, err := os.Stat(file)
	if errors.Is(err, os.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, fmt.Errorf("known hosts file %s: %w", file, err)
	}
	return fileStamp{exists: true, size: fi.Size(), modTime: fi.ModTime().UnixNano()}, nil
}

// hostKeyDBs caches the parsed databases of this process, keyed by their
// file list; an entry is used while none of its files changed (size,
// modification time) other than by this process's own appends.
var hostKeyDBs = struct {
	sync.Mutex
	byFiles map[string]*hostKeyDB
}{byFiles: map[string]*hostKeyDB{}}

// loadHostKeyDB returns the database of files, parsing them only when this
// process has not yet, or they changed since.
func loadHostKeyDB(files []string) (*hostKeyDB, error) {
	stamps := make([]fileStamp, len(files))
	for i, f := range files {
		st, err := stampOf(f)
		if err != nil {
			return nil, err
		}
		stamps[i] = st
	}
	key := strings.Join(files, "\x00")
	hostKeyDBs.Lock()
	defer hostKeyDBs.Unlock()
	if d := hostKeyDBs.byFiles[key]; d != nil && slices.Equal(d.stamps, stamps) {
		return d, nil
	}
	d := &hostKeyDB{files: files, stamps: stamps}
	for i, f := range files {
		if stamps[i].exists {
			d.existing = append(d.existing, f)
		}
	}
	if len(d.existing) > 0 {
		db, err := knownhosts.NewDB(d.existing...)
		if err != nil {
			return nil, fmt.Errorf("known hosts: %w", err)
		}
		d.db = db
		if err := d.buildIndex(); err != nil {
			return nil, fmt.Errorf("known hosts: %w", err)
		}
	}
	hostKeyDBs.byFiles[key] = d
	return d, nil
}

// buildIndex reads the existing files once more for the index (the library
// keeps its lines to itself). Lines the library skips as invalid are
// skipped here too.
func (d *hostKeyDB) buildIndex() error {
	d.index = map[string][]xknownhosts.KnownKey{}
	d.revoked = map[string]bool{}
	for _, file := range d.existing {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		for n, line := range bytes.Split(data, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 || line[0] == '#' {
				continue
			}
			marker, hosts, key, _, _, err := ssh.ParseKnownHosts(line)
			if err != nil {
				continue
			}
			if marker == "revoked" {
				d.revoked[string(key.Marshal())] = true
				continue
			}
			plain := marker == ""
			for _, h := range hosts {
				if strings.HasPrefix(h, "|") || strings.ContainsAny(h, "*?!") {
					plain = false
				}
			}
			if !plain {
				d.general++
				continue
			}
			for _, h := range hosts {
				addr := h
				if !strings.HasPrefix(h, "[") {
					addr = net.JoinHostPort(h, "22")
				}
				k := knownhosts.Normalize(addr)
				d.index[k] = append(d.index[k], xknownhosts.KnownKey{Key: key, Filename: file, Line: n + 1})
			}
		}
	}
	return nil
}

// plainAlgorithms returns the algorithms of the keys the plain lines know
// for addr, in the library's order (file name, then line).
func (d *hostKeyDB) plainAlgorithms(addr string) []string {
	keys := slices.Clone(d.index[knownhosts.Normalize(addr)])
	slices.SortStableFunc(keys, func(a, b xknownhosts.KnownKey) int {
		if c := strings.Compare(a.Filename, b.Filename); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	var algos []string
	add := func(a string) {
		if !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	for _, k := range keys {
		if k.Key.Type() == ssh.KeyAlgoRSA {
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
		}
		add(k.Key.Type())
	}
	return algos
}

// knownByPlainLine reports whether a plain line holds key for addr (and
// key is no certificate, nor revoked): the library would accept it too.
func (d *hostKeyDB) knownByPlainLine(addr string, key ssh.PublicKey) bool {
	if _, cert := key.(*ssh.Certificate); cert {
		return false
	}
	blob := key.Marshal()
	if d.revoked[string(blob)] {
		return false
	}
	for _, k := range d.index[knownhosts.Normalize(addr)] {
		if bytes.Equal(k.Key.Marshal(), blob) {
			return true
		}
	}
	return false
}

// hostKeyChecker verifies the host key of one connection against a shared
// hostKeyDB.
type hostKeyChecker struct {
	*hostKeyDB
	acceptNew bool
	// err is the last refusal, kept because the SSH library flattens it.
	err error
}

func newHostKeyChecker(files []string, acceptNew bool) (*hostKeyChecker, error) {
	d, err := loadHostKeyDB(files)
	if err != nil {
		return nil, err
	}
	return &hostKeyChecker{hostKeyDB: d, acceptNew: acceptNew}, nil
}

// algorithms returns the host key algorithms to offer for addr: those of
// the keys known for it (certificate algorithms for a @cert-authority
// line), so that a host known by its ed25519 key is not refused because it
// offered its RSA key first. Nil (the library's defaults) when no key is
// known.
func (c *hostKeyChecker) algorithms(addr string) []string {
	var algos []string
	switch {
	case c.db == nil:
	case c.general == 0:
		algos = c.plainAlgorithms(addr)
	default:
		algos = c.db.HostKeyAlgorithms(addr)
	}
	if k := c.acceptedKey(addr); k != nil && !slices.Contains(algos, k.Type()) {
		if k.Type() == ssh.KeyAlgoRSA {
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
		}
		algos = append(algos, k.Type())
	}
	if len(algos) == 0 {
		return nil
	}
	return algos
}

// acceptedKey is the key accept-new recorded for addr in this process since
// the files were parsed, or nil.
func (d *hostKeyDB) acceptedKey(addr string) ssh.PublicKey {
	d.acceptedMu.RLock()
	defer d.acceptedMu.RUnlock()
	return d.accepted[knownhosts.Normalize(addr)]
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
	if c.db != nil && hostname == addr && c.knownByPlainLine(addr, key) {
		return nil
	}
	if c.db != nil {
		err = c.db.HostKeyCallback()(hostname, remote, key)
		if err == nil {
			return nil
		}
	} else {
		err = &xknownhosts.KeyError{}
	}
	var revoked *xknownhosts.RevokedError
	if errors.As(err, &revoked) {
		return &hostKeyError{fmt.Sprintf("the host key %s %s is marked @revoked in %s:%d; refusing to connect",
			key.Type(), fp, revoked.Revoked.Filename, revoked.Revoked.Line)}
	}
	if k := c.acceptedKey(addr); k != nil {
		if bytes.Equal(k.Marshal(), key.Marshal()) {
			return nil
		}
		if ke := (*xknownhosts.KeyError)(nil); errors.As(err, &ke) {
			ke.Want = append(ke.Want, xknownhosts.KnownKey{Key: k, Filename: c.appendFile()})
		}
	}
	if cert, ok := key.(*ssh.Certificate); ok && !errors.As(err, new(*xknownhosts.KeyError)) {
		return &hostKeyError{fmt.Sprintf(
			"the host presented a certificate (%s, signed by %s %s) that no @cert-authority line of %s accepts for %s: %v; refusing to connect",
			cert.Type(), cert.SignatureKey.Type(), ssh.FingerprintSHA256(cert.SignatureKey), strings.Join(c.existing, ", "), knownhosts.Normalize(addr), err)}
	}
	var ke *xknownhosts.KeyError
	if !errors.As(err, &ke) {
		return &hostKeyError{fmt.Sprintf("checking the host key: %v", err)}
	}
	if len(ke.Want) > 0 {
		var known []string
		for _, w := range ke.Want {
			where := w.Filename
			if w.Line > 0 {
				where = fmt.Sprintf("%s:%d", w.Filename, w.Line)
			}
			known = append(known, fmt.Sprintf("%s (%s %s)", where, w.Key.Type(), ssh.FingerprintSHA256(w.Key)))
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
	first, err := c.appendKey(addr, key)
	if err != nil {
		return &hostKeyError{fmt.Sprintf("recording the new host key %s %s: %v", key.Type(), fp, err)}
	}
	if first != nil {
		return &hostKeyError{fmt.Sprintf(
			"WARNING: HOST KEY MISMATCH for %s: the host offered %s key %s, but another connection of this run was just shown %s key %s for %s and recorded it in %s. "+
				"Someone may be intercepting one of the connections (man-in-the-middle). Refusing to connect.",
			host, key.Type(), fp, first.Type(), ssh.FingerprintSHA256(first), knownhosts.Normalize(addr), c.appendFile())}
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
// hosts file, creating it (0600, directory 0700) if needed, and records the
// key in the shared database, so that the file is not parsed again for it.
// When another connection recorded a key for addr meanwhile, it records
// nothing and returns that key if it differs from key (the recording and
// the check of what was recorded are one step).
func (c *hostKeyChecker) appendKey(addr string, key ssh.PublicKey) (ssh.PublicKey, error) {
	if len(c.files) == 0 {
		return nil, errors.New("no known hosts file configured")
	}
	file := c.files[0]
	knownHostsAppendMu.Lock()
	defer knownHostsAppendMu.Unlock()
	if k := c.acceptedKey(addr); k != nil {
		if bytes.Equal(k.Marshal(), key.Marshal()) {
			return nil, nil
		}
		return k, nil
	}
	before, _ := stampOf(file)
	if err := c.writeLine(file, addr, key); err != nil {
		return nil, err
	}
	c.acceptedMu.Lock()
	if c.accepted == nil {
		c.accepted = map[string]ssh.PublicKey{}
	}
	c.accepted[knownhosts.Normalize(addr)] = key
	c.acceptedMu.Unlock()
	// The database stays valid for the file as it is now, unless someone
	// else changed the file since it was parsed: then the next connection
	// parses it again.
	after, err := stampOf(file)
	hostKeyDBs.Lock()
	if err == nil && before == c.stamps[0] {
		c.stamps[0] = after
	}
	hostKeyDBs.Unlock()
	return nil, nil
}

// writeLine appends the known_hosts line of addr and key to file.
func (c *hostKeyChecker) writeLine(file, addr string, key ssh.PublicKey) error {
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
