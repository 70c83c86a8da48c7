package executor

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// JumpPool shares the connections to jump hosts (bastions): one connection
// per distinct chain of hops, opened by the first connection that needs it
// and closed when the last one using it is closed. A connection to a jump
// host sends keepalives as any connection does (the hop's KeepAlive) and
// is closed when they go unanswered; once it is gone — closed so, or by
// the jump host or the network — the next connection that needs the chain
// opens a new one, while those that went through the old one fail as
// unreachable. A run makes one pool and gives it to every connection
// (SSHConfig.Jumps). Safe for concurrent use.
type JumpPool struct {
	mu      sync.Mutex
	entries map[string]*jumpEntry
	opened  int
}

// jumpEntry is the connection to the last hop of one chain.
type jumpEntry struct {
	ready  chan struct{} // closed once client or err is set
	client *ssh.Client
	err    error
	refs   int
	// parent lets go of the chain's connection up to the hop before.
	parent func()
	// gone is closed once client's connection is closed.
	gone chan struct{}
	// lost says why tend dropped the connection (its keepalives went
	// unanswered), for the hosts behind it: a string.
	lost atomic.Value
}

// goneWithin reports whether e's connection is gone, waiting at most d for
// the pool to see it go.
func (e *jumpEntry) goneWithin(d time.Duration) bool {
	if e.gone == nil {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-e.gone:
		return true
	case <-t.C:
		return false
	}
}

// lostReason says why tend dropped e's connection, or "".
func (e *jumpEntry) lostReason() string {
	why, _ := e.lost.Load().(string)
	return why
}

// alive reports whether e is still usable for a new connection: not
// failed, and its connection not gone.
func (e *jumpEntry) alive() bool {
	select {
	case <-e.ready:
	default:
		return true // being opened: its users wait for it
	}
	if e.err != nil || e.gone == nil {
		return e.err == nil
	}
	select {
	case <-e.gone:
		return false
	default:
		return true
	}
}

// NewJumpPool returns an empty pool.
func NewJumpPool() *JumpPool { return &JumpPool{entries: map[string]*jumpEntry{}} }

// Opened is how many connections to jump hosts the pool opened so far.
func (p *JumpPool) Opened() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.opened
}

// chainKey names a chain of hops by what identifies each connection: the
// login user, address and port, and the settings that verify the hop's host
// key and authenticate to it.
func chainKey(chain []SSHConfig) string {
	parts := make([]string, len(chain))
	for i, h := range chain {
		port := h.Port
		if port == 0 {
			port = DefaultSSHPort
		}
		addr := h.Address
		if addr == "" {
			addr = h.Host
		}
		// What verifies the hop's host key and logs in to it belongs to
		// the key too: a connection opened with one host's known_hosts
		// files or keys must not carry another host whose own settings
		// would refuse the hop.
		// Its keepalives too: hosts that ask for different ones get
		// connections of their own, each with what it asked for.
		parts[i] = fmt.Sprintf("%s@%s known=%q accept-new=%t ids=%q ids-only=%t agent=%q keepalive=%s/%d",
			h.User, net.JoinHostPort(addr, strconv.Itoa(port)),
			h.KnownHostsFiles, h.AcceptNewHostKeys, h.IdentityFiles, h.IdentitiesOnly, h.AgentSocket, h.KeepAlive, h.KeepAliveMisses)
	}
	return strings.Join(parts, ",")
}

// acquire returns a connection to the last hop of chain, reached through
// the hops before it, and the function that lets go of it. The error names
// the hop that failed. lostReason (below) says why tend dropped it.
func (p *JumpPool) acquire(ctx context.Context, chain []SSHConfig) (*ssh.Client, func(), error) {
	c, release, _, err := p.acquireEntry(ctx, chain)
	return c, release, err
}

// acquireEntry is acquire, also returning the pooled entry.
func (p *JumpPool) acquireEntry(ctx context.Context, chain []SSHConfig) (*ssh.Client, func(), *jumpEntry, error) {
	key := chainKey(chain)
	p.mu.Lock()
	e, ok := p.entries[key]
	if ok && !e.alive() {
		// Gone since: its users keep their references to it, and this
		// connection opens a new one.
		ok = false
	}
	if !ok {
		e = &jumpEntry{ready: make(chan struct{})}
		p.entries[key] = e
	}
	e.refs++
	p.mu.Unlock()
	var once sync.Once
	release := func() { once.Do(func() { p.release(key, e) }) }
	if ok {
		select {
		case <-e.ready:
		case <-ctx.Done():
			release()
			return nil, nil, nil, ctx.Err()
		}
		if e.err != nil {
			release()
			return nil, nil, nil, e.err
		}
		return e.client, release, e, nil
	}

	// First user of this chain: connect to its last hop.
	var via *ssh.Client
	parent := func() {}
	var err error
	if len(chain) > 1 {
		via, parent, err = p.acquire(ctx, chain[:len(chain)-1])
	}
	if err == nil {
		var hop SSHConfig
		hop, err = chain[len(chain)-1].withDefaults()
		if err == nil {
			hop.Jump, hop.Jumps = nil, nil
			addr := net.JoinHostPort(hop.Address, strconv.Itoa(hop.Port))
			e.client, err = handshake(ctx, hop, addr, via)
		}
		if err != nil {
			parent()
		}
	}
	p.mu.Lock()
	if err == nil {
		p.opened++
		e.parent = parent
		e.gone = make(chan struct{})
	}
	e.err = err
	p.mu.Unlock()
	close(e.ready)
	if err == nil {
		go p.watch(key, e, chain[len(chain)-1])
	}
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	return e.client, release, e, nil
}

// watch keeps e's connection alive with keepalives (hop's settings) and,
// once the connection is gone, takes e out of the pool so that the next
// connection through the chain opens a new one.
func (p *JumpPool) watch(key string, e *jumpEntry, hop SSHConfig) {
	if hop, err := hop.withDefaults(); err == nil && hop.KeepAlive > 0 {
		go keepAlive(e.client, hop.KeepAlive, hop.KeepAliveMisses, e.gone, func(why string) {
			e.lost.Store("jump host " + hop.Host + ": " + why)
		})
	}
	_ = e.client.Wait()
	p.mu.Lock()
	close(e.gone)
	if p.entries[key] == e {
		delete(p.entries, key)
	}
	p.mu.Unlock()
}

// release drops one reference to e; the last one closes its connection and
// lets go of the hops before it.
func (p *JumpPool) release(key string, e *jumpEntry) {
	p.mu.Lock()
	e.refs--
	last := e.refs == 0
	if last && p.entries[key] == e {
		delete(p.entries, key)
	}
	p.mu.Unlock()
	if !last {
		return
	}
	<-e.ready
	if e.client != nil {
		e.client.Close()
	}
	if e.parent != nil {
		e.parent()
	}
}
