package simfleet

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Options configure a simulated fleet.
type Options struct {
	// Hosts is the number of hosts (1 to MaxHosts).
	Hosts int
	// Recording is what every host answers.
	Recording *Recording
	// Delay is added before each command's answer, as a network round trip
	// and the host's work would.
	Delay time.Duration
	// Net is the first three octets of the hosts' loopback addresses
	// (127.X.Y.Z): host i listens on 127.X.(Y+i/250).(1+i%250):Port.
	// Default 127.77.0.
	Net string
	// Port is the hosts' SSH port (default 2222).
	Port int
}

// MaxHosts bounds a simulated fleet.
const MaxHosts = 50000

// Fleet is a running simulated fleet.
type Fleet struct {
	// Addrs are the hosts' "address:port", in order.
	Addrs []string
	// HostKey is the host key all hosts share (one key keeps start-up
	// fast; known_hosts still has a line per host).
	HostKey ssh.PublicKey

	listeners []net.Listener
	misses    atomic.Int64
	wg        sync.WaitGroup
}

// KeyExchanges are the key exchanges the simulated hosts offer: those of
// the recorded host's sshd (OpenSSH 9.2, Debian 12 — the test fleet's and
// a typical fleet's) that x/crypto/ssh also speaks, in its order. That sshd
// has no mlkem768x25519-sha256 (OpenSSH added it in 9.9), so tend
// negotiates curve25519-sha256 with it; offering ML-KEM here would make
// tend pay for a key exchange the real hosts never ask for.
var KeyExchanges = []string{
	ssh.KeyExchangeCurve25519, "curve25519-sha256@libssh.org",
	ssh.KeyExchangeECDHP256, ssh.KeyExchangeECDHP384, ssh.KeyExchangeECDHP521,
	ssh.KeyExchangeDH16SHA512, ssh.KeyExchangeDH14SHA256,
}

// newConfig is the server configuration: any client key is accepted.
func newConfig(hostKey ssh.Signer) *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) {
			return &ssh.Permissions{}, nil
		},
	}
	cfg.KeyExchanges = KeyExchanges
	cfg.AddHostKey(hostKey)
	return cfg
}

func newSigner() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

// RaiseFileLimit raises RLIMIT_NOFILE to its hard limit (a fleet holds a
// listener per host and a socket per connection).
func RaiseFileLimit() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	l.Cur = l.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

// Start starts the hosts; Close stops them.
func Start(o Options) (*Fleet, error) {
	if o.Hosts < 1 || o.Hosts > MaxHosts {
		return nil, fmt.Errorf("hosts must be from 1 to %d", MaxHosts)
	}
	if o.Recording == nil {
		return nil, errors.New("no recording")
	}
	if o.Net == "" {
		o.Net = "127.77.0"
	}
	if o.Port == 0 {
		o.Port = 2222
	}
	oct := strings.Split(o.Net, ".")
	if len(oct) != 3 || oct[0] != "127" {
		return nil, fmt.Errorf("net %q: want 127.X.Y", o.Net)
	}
	x, _ := strconv.Atoi(oct[1])
	y, _ := strconv.Atoi(oct[2])
	signer, err := newSigner()
	if err != nil {
		return nil, err
	}
	config := newConfig(signer)
	byKey, sockets := newReplayIndex(o.Recording)
	f := &Fleet{HostKey: signer.PublicKey()}
	for i := 0; i < o.Hosts; i++ {
		yy := y + i/250
		if yy > 255 {
			f.Close()
			return nil, errors.New("too many hosts for the address range")
		}
		addr := net.JoinHostPort(fmt.Sprintf("127.%d.%d.%d", x, yy, 1+i%250), strconv.Itoa(o.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.listeners = append(f.listeners, ln)
		f.Addrs = append(f.Addrs, addr)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				go serveConn(nc, config, func() answerer {
					return &replayer{byKey: byKey, sockets: sockets, delay: o.Delay, misses: &f.misses, used: map[string]int{}}
				})
			}
		}()
	}
	return f, nil
}

// Misses counts the commands and socket conversations that had no recorded
// answer (each failed on its host).
func (f *Fleet) Misses() int64 { return f.misses.Load() }

// Close stops accepting connections.
func (f *Fleet) Close() {
	for _, ln := range f.listeners {
		ln.Close()
	}
	f.wg.Wait()
}

// Proxy is a recording SSH server: each connection is forwarded to one real
// host, and the exchanges are recorded.
type Proxy struct {
	Addr    string
	HostKey ssh.PublicKey

	ln    net.Listener
	rec   Recording
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// StartProxy listens on 127.0.0.1 and forwards to upstream (host:port),
// logging in as user with key and checking the upstream's host key against
// knownHostsFile.
func StartProxy(upstream, user string, key ssh.Signer, knownHostsFile string) (*Proxy, error) {
	hk, err := knownhosts.New(knownHostsFile)
	if err != nil {
		return nil, err
	}
	signer, err := newSigner()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), HostKey: signer.PublicKey(), ln: ln, conns: map[net.Conn]bool{}}
	config := newConfig(signer)
	ccfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, HostKeyCallback: hk, Timeout: 15 * time.Second}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[nc] = true
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer func() {
					p.mu.Lock()
					delete(p.conns, nc)
					p.mu.Unlock()
				}()
				client, err := ssh.Dial("tcp", upstream, ccfg)
				if err != nil {
					nc.Close()
					return
				}
				defer client.Close()
				serveConn(nc, config, func() answerer { return &recorder{upstream: client, rec: &p.rec, mu: &p.mu} })
			}()
		}
	}()
	return p, nil
}

// Close stops the proxy, closing the connections still open, and returns
// what it recorded.
func (p *Proxy) Close() *Recording {
	p.ln.Close()
	p.mu.Lock()
	for nc := range p.conns {
		nc.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rec
	return &r
}

// Client is what tend needs to reach a fleet: an inventory, a known_hosts
// file and a client key, written into a directory.
type Client struct {
	Inventory, KnownHosts, Key string
}

// WriteClient writes, into dir, a client key, a known_hosts file with one
// line per address, all with hostKey, and an inventory of the staffrota
// example's group "web" (user deploy, become) naming the addresses
// sim0001, sim0002, ….
func WriteClient(dir string, addrs []string, hostKey ssh.PublicKey) (Client, error) {
	c := Client{
		Inventory:  filepath.Join(dir, "inventory.hcl"),
		KnownHosts: filepath.Join(dir, "known_hosts"),
		Key:        filepath.Join(dir, "client_key"),
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return c, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "simfleet client")
	if err != nil {
		return c, err
	}
	if err := os.WriteFile(c.Key, pem.EncodeToMemory(block), 0o600); err != nil {
		return c, err
	}
	var kh, inv strings.Builder
	fmt.Fprintf(&inv, "# A simulated fleet (test/simfleet): %d hosts on loopback.\n\ndefaults {\n  user = \"deploy\"\n  become = true\n  identity_file = %q\n  known_hosts_file = %q\n  connect_timeout = 30\n}\n\ngroup \"web\" {\n  vars = { workers = 2 }\n", len(addrs), c.Key, c.KnownHosts)
	for i, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		kh.WriteString(knownhosts.Line([]string{knownhosts.Normalize(a)}, hostKey))
		kh.WriteByte('\n')
		fmt.Fprintf(&inv, "  host \"sim%05d\" {\n    address = %q\n    port = %s\n  }\n", i+1, host, port)
	}
	inv.WriteString("}\n")
	if err := os.WriteFile(c.KnownHosts, []byte(kh.String()), 0o600); err != nil {
		return c, err
	}
	return c, os.WriteFile(c.Inventory, []byte(inv.String()), 0o644)
}
