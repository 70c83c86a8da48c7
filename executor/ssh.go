package executor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Defaults for SSHConfig fields left zero.
const (
	DefaultSSHPort        = 22
	DefaultConnectTimeout = 15 * time.Second
	DefaultKeepAlive      = 5 * time.Second
	// DefaultKeepAliveMisses unanswered keepalives close the connection.
	DefaultKeepAliveMisses = 3
)

// SSHConfig configures one SSH connection (DialSSH).
type SSHConfig struct {
	// Host names the host in messages (the inventory name).
	Host string
	// Address is what to connect to; Host when empty.
	Address string
	// Port defaults to 22.
	Port int
	// User is the login user; the current user when empty.
	User string

	// IdentityFiles are private key files (ed25519, RSA, ECDSA) offered
	// after the ssh-agent's keys. When empty, those of ~/.ssh/id_ed25519,
	// id_ecdsa and id_rsa that exist are used.
	IdentityFiles []string
	// AgentSocket is the ssh-agent socket; $SSH_AUTH_SOCK when empty,
	// "none" to use no agent.
	AgentSocket string
	// IdentitiesOnly offers only the keys of IdentityFiles (the agent
	// signs for those it holds), never the agent's other keys, like
	// OpenSSH's IdentitiesOnly yes.
	IdentitiesOnly bool
	// PassphrasePrompt asks for the passphrase of an encrypted identity
	// file whose key is not in the agent. Nil means such files are skipped,
	// and named in the error if authentication fails.
	PassphrasePrompt func(file string) ([]byte, error)
	// Identities, when set, keeps the identity files read by one
	// connection for the others of the run (see Identities).
	Identities *Identities

	// KnownHostsFiles are OpenSSH known_hosts files, all consulted; the
	// first one is where AcceptNewHostKeys records new keys. Default
	// ~/.ssh/known_hosts.
	KnownHostsFiles []string
	// AcceptNewHostKeys trusts and records the key of a host that has no
	// known key yet. A host whose key differs from a known one is refused
	// regardless.
	AcceptNewHostKeys bool

	// Become lets commands and writes that ask for it run through sudo.
	Become bool
	// BecomeUser is the default user to become; root when empty.
	BecomeUser string
	// BecomePassword returns the sudo password. Nil means no password is
	// configured: sudo runs with -n and fails clearly if it needs one. It is
	// called at most once per connection, only when sudo asks, and the
	// password only ever travels on the command's stdin.
	BecomePassword func() (string, error)

	// ConnectTimeout bounds dialling and the SSH handshake (default 15s).
	ConnectTimeout time.Duration
	// CommandTimeout bounds commands that set no Timeout of their own;
	// DefaultCommandTimeout when zero.
	CommandTimeout time.Duration
	// KeepAlive is the interval of keepalive@openssh.com requests and of
	// the heartbeats running commands get (default 5s, negative disables
	// both); KeepAliveMisses unanswered keepalives (default 3) close the
	// connection, so a dead peer is noticed within about
	// KeepAlive × (KeepAliveMisses+1).
	KeepAlive       time.Duration
	KeepAliveMisses int
	// StateDir is tend's state directory on the host (run lock, pending
	// records); /var/lib/tend for root and ~/.local/state/tend for other
	// users when empty.
	StateDir string

	// Jump is the chain of jump hosts (bastions) the connection goes
	// through, first hop first, like ssh -J: each hop is reached through
	// the one before it (a "direct-tcpip" channel), its host key verified
	// against its own KnownHostsFiles and address, and logged in to with
	// its own user and keys. The hops' own Jump fields are ignored.
	Jump []SSHConfig
	// Jumps shares the connections to jump hosts among the connections
	// that use the same chain; nil opens them for this connection alone.
	Jumps *JumpPool
}

// MaxHandshakes bounds the connections of this process that are being
// opened (TCP connect, key exchange, authentication) at once, whatever
// --forks says: a key exchange is the costliest moment of a connection in
// CPU and memory, and thousands at once would only slow each other down
// until they time out.
const MaxHandshakes = 256

// handshakes holds a slot per handshake in progress.
var handshakes = make(chan struct{}, MaxHandshakes)

// acquireHandshake waits for a handshake slot; the returned function frees
// it.
func acquireHandshake(ctx context.Context) (func(), error) {
	select {
	case handshakes <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-handshakes }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// connectError is a failure to reach a host; it wraps ErrUnreachable and
// the cause.
type connectError struct {
	host, addr, step string
	err              error
}

func (e *connectError) Error() string {
	return fmt.Sprintf("%s (%s): %s: %v", e.host, e.addr, e.step, e.err)
}

func (e *connectError) Unwrap() []error { return []error{ErrUnreachable, e.err} }

// sshConn is a Conn over one SSH connection: a new session channel per
// command.
type sshConn struct {
	cfg    SSHConfig
	addr   string
	client *ssh.Client
	runner *runner
	// release lets go of the jump hosts' connection (a no-op without).
	release func()

	roundTrips atomic.Int64
	commands   atomic.Int64

	done      chan struct{} // closed by Close
	gone      chan struct{} // closed when the connection is gone
	closeOnce sync.Once
	lost      atomic.Value // string: why the connection was dropped
	// jump is the pooled connection to the last jump host, or nil: when
	// tend dropped it, that is why this one went too.
	jump *jumpEntry
}

// DialSSH connects to a host and authenticates; the returned Conn reuses
// the connection for everything until Close. Every failure to reach the
// host wraps ErrUnreachable (a refused host key also ErrHostKey) and names
// the host, its address and the step that failed.
func DialSSH(ctx context.Context, cfg SSHConfig) (Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port))
	var via *ssh.Client
	var jump *jumpEntry
	release := func() {}
	pool := cfg.Jumps
	if len(cfg.Jump) > 0 && pool == nil {
		pool = NewJumpPool()
	}
	var client *ssh.Client
	for attempt := 0; ; attempt++ {
		if len(cfg.Jump) > 0 {
			via, release, jump, err = pool.acquireEntry(ctx, cfg.Jump)
			if err != nil {
				return nil, &connectError{cfg.Host, addr, "jump host", err}
			}
		}
		client, err = handshake(ctx, cfg, addr, via)
		if err == nil {
			break
		}
		release()
		// A jump host's shared connection that has just gone (what made
		// this handshake fail) is replaced once: the pool may not have
		// seen it go when this connection took it.
		if jump == nil || attempt > 0 || !jump.goneWithin(200*time.Millisecond) {
			return nil, err
		}
	}
	c := &sshConn{
		cfg:     cfg,
		addr:    addr,
		client:  client,
		release: release,
		jump:    jump,
		done:    make(chan struct{}),
		gone:    make(chan struct{}),
	}
	return c.start0(), nil
}

// withDefaults fills the fields left zero.
func (cfg SSHConfig) withDefaults() (SSHConfig, error) {
	if cfg.Address == "" {
		cfg.Address = cfg.Host
	}
	if cfg.Host == "" {
		cfg.Host = cfg.Address
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultSSHPort
	}
	if cfg.User == "" {
		if u, err := user.Current(); err == nil {
			cfg.User = u.Username
		} else {
			cfg.User = os.Getenv("USER")
		}
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.KeepAliveMisses <= 0 {
		cfg.KeepAliveMisses = DefaultKeepAliveMisses
	}
	if len(cfg.KnownHostsFiles) == 0 {
		file, err := DefaultKnownHostsFile()
		if err != nil {
			return cfg, &connectError{cfg.Host, cfg.Address, "known hosts", err}
		}
		cfg.KnownHostsFiles = []string{file}
	}
	return cfg, nil
}

// handshake connects to addr — directly, or through the jump host via
// when it is not nil — and logs in; cfg has its defaults.
func handshake(ctx context.Context, cfg SSHConfig, addr string, via *ssh.Client) (*ssh.Client, error) {
	fail := func(step string, err error) error { return &connectError{cfg.Host, addr, step, err} }

	checker, err := newHostKeyChecker(cfg.KnownHostsFiles, cfg.AcceptNewHostKeys)
	if err != nil {
		return nil, fail("known hosts", err)
	}
	keys, err := loadSigners(&cfg)
	if err != nil {
		return nil, fail("auth", err)
	}
	defer keys.close()

	clientCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(keys.signers...)},
		HostKeyCallback:   checker.callback(cfg.Host, addr),
		HostKeyAlgorithms: checker.algorithms(addr),
		Timeout:           cfg.ConnectTimeout,
	}

	dctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	release, err := acquireHandshake(dctx)
	if err != nil {
		if ctx.Err() == nil {
			err = fmt.Errorf("timed out after %s waiting for one of the %d handshakes in progress to end", cfg.ConnectTimeout, MaxHandshakes)
		}
		return nil, fail("connect", err)
	}
	defer release()
	var nc net.Conn
	if via != nil {
		nc, err = via.DialContext(dctx, "tcp", addr)
	} else {
		var dialer net.Dialer
		nc, err = dialer.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		if errors.Is(dctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("timed out after %s", cfg.ConnectTimeout)
		}
		return nil, fail("connect", err)
	}
	if deadline, ok := dctx.Deadline(); ok {
		_ = nc.SetDeadline(deadline)
	}
	stopWatch := context.AfterFunc(dctx, func() { nc.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, clientCfg)
	watchStopped := stopWatch()
	if err == nil && !watchStopped {
		sc.Close()
		err = errors.New("connection closed during the handshake")
	}
	if err != nil {
		nc.Close()
		switch {
		case checker.err != nil:
			return nil, fail("host key", checker.err)
		case strings.Contains(err.Error(), "no common algorithm for host key"):
			return nil, fail("host key", &hostKeyError{fmt.Sprintf(
				"the host offers no host key of the type(s) known for it (%s); refusing to connect: %v",
				strings.Join(clientCfg.HostKeyAlgorithms, ", "), err)})
		case strings.Contains(err.Error(), "unable to authenticate"):
			msg := fmt.Sprintf("%v (login user %q, %d key(s) offered)", err, cfg.User, len(keys.signers))
			if len(keys.notes) > 0 {
				msg += "; " + strings.Join(keys.notes, "; ")
			}
			return nil, fail("auth", errors.New(msg))
		case ctx.Err() == nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(dctx.Err(), context.DeadlineExceeded)):
			return nil, fail("handshake", fmt.Errorf("timed out after %s", cfg.ConnectTimeout))
		case ctx.Err() != nil:
			return nil, fail("handshake", ctx.Err())
		}
		return nil, fail("handshake", err)
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// start0 starts watching the connection and makes its runner.
func (c *sshConn) start0() *sshConn {
	cfg := c.cfg
	go func() {
		_ = c.client.Wait()
		close(c.gone)
	}()
	c.runner = &runner{
		start: c.start,
		become: &becomer{
			enabled:   cfg.Become,
			user:      cfg.BecomeUser,
			loginUser: cfg.User,
			password:  cfg.BecomePassword,
		},
		timeout:  cfg.CommandTimeout,
		stateDir: cfg.StateDir,
		lost: func() (bool, string) {
			// A dropped connection closes its channels first: give it a
			// moment to be noticed.
			select {
			case <-c.gone:
			case <-time.After(500 * time.Millisecond):
			}
			return c.isClosed(), c.lostReason()
		},
	}
	if cfg.KeepAlive > 0 {
		c.runner.heartbeat = cfg.KeepAlive
		go keepAlive(c.client, cfg.KeepAlive, cfg.KeepAliveMisses, c.done, func(why string) { c.lost.Store(why) })
	}
	return c
}

// Host implements Conn.
func (c *sshConn) Host() string { return c.cfg.Host }

// Stats implements Conn.
func (c *sshConn) Stats() Stats {
	return Stats{RoundTrips: int(c.roundTrips.Load()), Commands: int(c.commands.Load())}
}

// Close implements Conn.
func (c *sshConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.done)
		err = c.client.Close()
		c.release()
	})
	return err
}

// keepAlive sends keepalive@openssh.com requests on client every interval,
// one at a time, and closes client when misses intervals pass without an
// answer, after telling lost why. It returns when done is closed or the
// connection is gone.
func keepAlive(client *ssh.Client, interval time.Duration, misses int, done <-chan struct{}, lost func(why string)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var pending chan error
	missed := 0
	for {
		select {
		case <-done:
			return
		case err := <-pending:
			if err != nil {
				return // the connection is gone
			}
			pending = nil
			missed = 0
		case <-ticker.C:
			if pending == nil {
				pending = make(chan error, 1)
				go func(ch chan error) {
					_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
					ch <- err
				}(pending)
				continue
			}
			missed++
			if missed >= misses {
				lost(fmt.Sprintf("no answer to keepalives for %s", time.Duration(misses+1)*interval))
				client.Close()
				return
			}
		}
	}
}

// transportErr marks an error of the connection itself as unreachable,
// saying why the connection was dropped if tend dropped it.
func (c *sshConn) transportErr(err error) error {
	if reason := c.lostReason(); reason != "" {
		return fmt.Errorf("connection lost (%s): %w: %w", reason, err, ErrUnreachable)
	}
	return fmt.Errorf("%w: %w", err, ErrUnreachable)
}

// lostReason says why tend dropped the connection, or the connection to
// its jump host, or "".
func (c *sshConn) lostReason() string {
	if why, _ := c.lost.Load().(string); why != "" {
		return why
	}
	if c.jump != nil {
		return c.jump.lostReason()
	}
	return ""
}

// Run implements Conn.
func (c *sshConn) Run(ctx context.Context, cmd Command) (Result, error) {
	c.roundTrips.Add(1)
	c.commands.Add(1)
	return c.runner.run(ctx, cmd)
}

// Hold implements Conn.
func (c *sshConn) Hold(ctx context.Context, cmd Command, ready string) (*Held, []byte, error) {
	c.roundTrips.Add(1)
	c.commands.Add(1)
	return c.runner.hold(ctx, cmd, ready)
}

// DialUnix implements Conn: the stream goes through the SSH connection
// (direct-streamlocal@openssh.com); the socket is opened by the SSH server
// as the login user.
func (c *sshConn) DialUnix(ctx context.Context, path string) (net.Conn, error) {
	c.roundTrips.Add(1)
	conn, err := c.client.DialContext(ctx, "unix", path)
	if err != nil {
		if c.isClosed() {
			return nil, c.transportErr(fmt.Errorf("dial unix socket %s through SSH: %w", path, err))
		}
		return nil, fmt.Errorf("dial unix socket %s through SSH: %w", path, err)
	}
	return conn, nil
}
