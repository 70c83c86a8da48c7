// Package sshtest is test support: a small in-process SSH server for the
// executor's tests and for other packages that need a host to talk to without
// a real sshd.
//
// The server listens on 127.0.0.1 on a free port with a fresh ed25519 host
// key, accepts public-key logins for any user name with the keys it was
// given, and serves:
//
//   - "session" channels with "env", "exec" (run with /bin/sh -c on this
//     machine, as the test process's user, whatever the login name; like
//     sshd, the exit status is sent when the command exits, and the channel
//     is closed only when its output reaches EOF, which a process it left
//     running can delay),
//     and nothing else: like OpenSSH for a root login (without privilege
//     separation), "signal" requests are refused; and like OpenSSH, a
//     closed channel or connection only closes the command's standard
//     input, output and error — it kills nothing;
//   - "direct-streamlocal@openssh.com" channels, dialling a local unix socket;
//   - "direct-tcpip" channels (the bastion's role, ssh -J), dialling a TCP
//     port on the loopback interface only;
//   - "keepalive@openssh.com" global requests.
//
// It counts what it serves (Stats) so tests can prove how many round trips a
// piece of work cost. It is not a secure server: use it in tests only.
package sshtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Options configure a Server.
type Options struct {
	// AuthorizedKeys may log in, under any user name. With none, nobody can.
	AuthorizedKeys []ssh.PublicKey
	// HostKey is the server's host key; a new ed25519 key when nil. A
	// certificate signer (ssh.NewCertSigner) makes the server present a host
	// certificate, as a host trusted through a @cert-authority line does.
	HostKey ssh.Signer
	// ExtraHostKeys are further host keys (of other types) the server
	// offers, as real servers offer ed25519, ECDSA and RSA keys at once.
	ExtraHostKeys []ssh.Signer
	// Env is added to the environment of every command ("NAME=value").
	Env []string
	// Dir is the working directory of commands (the "home directory" of
	// the login); the process's when empty.
	Dir string
	// IgnoreKeepAlives makes the server swallow keepalive requests without
	// answering, like a host that has gone away.
	IgnoreKeepAlives bool
}

// Stats counts what a Server served.
type Stats struct {
	Connections  int // accepted TCP connections
	Channels     int // channel open requests of any type
	Execs        int // "exec" requests
	StreamLocals int // direct-streamlocal channel opens
	DirectTCPIPs int // direct-tcpip channel opens (forwardings, as a bastion)
	KeepAlives   int // keepalive global requests received
}

// Server is a running in-process SSH server.
type Server struct {
	opts     Options
	config   *ssh.ServerConfig
	listener net.Listener
	hostKey  ssh.Signer

	mu       sync.Mutex
	stats    Stats
	commands []string
	users    []string
	conns    map[net.Conn]bool
	procs    map[*os.Process]bool
	closed   bool
	wg       sync.WaitGroup
}

// New starts a server for the test and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Start starts a server; Close stops it.
func Start(opts Options) (*Server, error) {
	hostKey := opts.HostKey
	if hostKey == nil {
		signer, _, err := NewKey()
		if err != nil {
			return nil, err
		}
		hostKey = signer
	}
	s := &Server{opts: opts, hostKey: hostKey, conns: map[net.Conn]bool{}, procs: map[*os.Process]bool{}}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range opts.AuthorizedKeys {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					s.mu.Lock()
					s.users = append(s.users, meta.User())
					s.mu.Unlock()
					return &ssh.Permissions{}, nil
				}
			}
			return nil, fmt.Errorf("sshtest: key %s not authorized", ssh.FingerprintSHA256(key))
		},
	}
	s.config.AddHostKey(hostKey)
	for _, k := range opts.ExtraHostKeys {
		s.config.AddHostKey(k)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.listener = ln
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// NewKey generates an ed25519 key pair.
func NewKey() (ssh.Signer, ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return signer, priv, nil
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Host is the server's address without the port.
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.listener.Addr().(*net.TCPAddr).Port }

// HostKey is the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// KnownHostsLine is the known_hosts line that trusts this server.
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostKey())
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Commands returns the command lines of all exec requests, in order.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// Users returns the user names of all successful logins, in order.
func (s *Server) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.users...)
}

// Close stops the server: no new connections, open connections closed,
// running commands killed.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.listener.Close()
	for c := range s.conns {
		c.Close()
	}
	for p := range s.procs {
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// CloseConnections drops every open connection (the listener stays), as a
// host that reboots would.
func (s *Server) CloseConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[nc] = true
		s.stats.Connections++
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) serveConn(nc net.Conn) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.config)
	if err != nil {
		return
	}
	_ = nc.SetDeadline(time.Time{})
	defer sc.Close()
	go s.globalRequests(reqs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for newCh := range chans {
		s.count(func(st *Stats) { st.Channels++ })
		switch newCh.ChannelType() {
		case "session":
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.session(newCh)
			}()
		case "direct-streamlocal@openssh.com":
			s.count(func(st *Stats) { st.StreamLocals++ })
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.streamLocal(newCh)
			}()
		case "direct-tcpip":
			s.count(func(st *Stats) { st.DirectTCPIPs++ })
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.directTCPIP(newCh)
			}()
		default:
			newCh.Reject(ssh.UnknownChannelType, "sshtest: unsupported channel type")
		}
	}
}

func (s *Server) globalRequests(reqs <-chan *ssh.Request) {
	for req := range reqs {
		if req.Type == "keepalive@openssh.com" {
			s.count(func(st *Stats) { st.KeepAlives++ })
			if s.opts.IgnoreKeepAlives {
				continue
			}
			// OpenSSH answers keepalives with a failure; any answer will do.
			req.Reply(false, nil)
			continue
		}
		if req.WantReply {
			req.Reply(false, nil)
		}
	}
}

func (s *Server) session(newCh ssh.NewChannel) {
	ch, reqs, err := newCh.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	var (
		env     []string
		started bool
		done    = make(chan struct{})
		gone    = make(chan struct{})
	)
	for req := range reqs {
		switch req.Type {
		case "env":
			var msg struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &msg) != nil {
				req.Reply(false, nil)
				continue
			}
			env = append(env, msg.Name+"="+msg.Value)
			req.Reply(true, nil)
		case "exec":
			var msg struct{ Command string }
			if started || ssh.Unmarshal(req.Payload, &msg) != nil {
				req.Reply(false, nil)
				continue
			}
			started = true
			s.mu.Lock()
			s.stats.Execs++
			s.commands = append(s.commands, msg.Command)
			s.mu.Unlock()
			req.Reply(true, nil)
			go func() {
				defer close(done)
				s.exec(ch, msg.Command, env, gone)
			}()
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
	// The client closed the channel: the command's pipes close (exec
	// cuts its output off); like sshd, nothing is killed.
	close(gone)
	if started {
		<-done
	}
}

// exec runs command with /bin/sh -c and reports its exit status. Like
// sshd, it reads the command's output from pipes until EOF, which comes
// when every process holding them (the command and whatever it left
// running) has closed them, and sends the exit status as soon as the
// command exits, possibly before the last of its output. The channel is
// closed after both; gone closing (the client closed the channel) cuts the
// output off.
func (s *Server) exec(ch ssh.Channel, command string, env []string, gone <-chan struct{}) {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = append(append(os.Environ(), s.opts.Env...), env...)
	cmd.Dir = s.opts.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var pipes []*os.File // read ends: stdout, stderr
	var err error
	for range 2 {
		var r, w *os.File
		if r, w, err = os.Pipe(); err != nil {
			break
		}
		defer w.Close()
		defer r.Close()
		pipes = append(pipes, r)
		if cmd.Stdout == nil {
			cmd.Stdout = w
		} else {
			cmd.Stderr = w
		}
	}
	var stdin io.WriteCloser
	if err == nil {
		stdin, err = cmd.StdinPipe()
	}
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "sshtest: %v\n", err)
		sendExitStatus(ch, 127)
		ch.Close()
		return
	}
	// Only the command (and its children) hold the write ends now.
	cmd.Stdout.(*os.File).Close()
	cmd.Stderr.(*os.File).Close()
	s.mu.Lock()
	s.procs[cmd.Process] = true
	s.mu.Unlock()
	go func() {
		_, _ = io.Copy(stdin, ch)
		stdin.Close()
	}()
	var copies sync.WaitGroup
	for i, w := range []io.Writer{ch, ch.Stderr()} {
		copies.Add(1)
		go func() {
			defer copies.Done()
			_, _ = io.Copy(w, pipes[i])
		}()
	}
	copied := make(chan struct{})
	go func() {
		copies.Wait()
		close(copied)
	}()
	go func() {
		select {
		case <-gone:
			for _, r := range pipes {
				r.Close()
			}
		case <-copied:
		}
	}()

	err = cmd.Wait()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		sendExitStatus(ch, 0)
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sendExitSignal(ch, ws.Signal())
		} else {
			sendExitStatus(ch, exitErr.ExitCode())
		}
	default:
		sendExitStatus(ch, 255)
	}
	<-copied
	s.mu.Lock()
	delete(s.procs, cmd.Process)
	s.mu.Unlock()
	ch.CloseWrite()
	ch.Close()
}

func (s *Server) streamLocal(newCh ssh.NewChannel) {
	var msg struct {
		SocketPath string
		Reserved0  string
		Reserved1  uint32
	}
	if err := ssh.Unmarshal(newCh.ExtraData(), &msg); err != nil {
		newCh.Reject(ssh.Prohibited, "sshtest: bad direct-streamlocal request")
		return
	}
	conn, err := net.DialTimeout("unix", msg.SocketPath, 5*time.Second)
	if err != nil {
		newCh.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	forward(newCh, conn)
}

// directTCPIP forwards a "direct-tcpip" channel to a TCP port of the
// loopback interface: a test bastion reaches only this machine.
func (s *Server) directTCPIP(newCh ssh.NewChannel) {
	var msg struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(newCh.ExtraData(), &msg); err != nil {
		newCh.Reject(ssh.Prohibited, "sshtest: bad direct-tcpip request")
		return
	}
	ip := net.ParseIP(msg.Host)
	if msg.Host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !ip.IsLoopback() || msg.Port == 0 || msg.Port > 65535 {
		newCh.Reject(ssh.Prohibited, "sshtest: direct-tcpip only to a loopback address")
		return
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(int(msg.Port))), 5*time.Second)
	if err != nil {
		newCh.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	forward(newCh, conn)
}

// forward accepts newCh and copies both ways between it and conn (a unix
// or TCP connection) until both directions reach EOF, passing each EOF on.
func forward(newCh ssh.NewChannel, conn net.Conn) {
	defer conn.Close()
	ch, reqs, err := newCh.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(conn, ch)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(ch, conn)
		ch.CloseWrite()
		done <- struct{}{}
	}()
	<-done
	<-done
}

func sendExitStatus(ch ssh.Channel, status int) {
	_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGABRT: "ABRT", syscall.SIGALRM: "ALRM", syscall.SIGFPE: "FPE", syscall.SIGHUP: "HUP",
	syscall.SIGILL: "ILL", syscall.SIGINT: "INT", syscall.SIGKILL: "KILL", syscall.SIGPIPE: "PIPE",
	syscall.SIGQUIT: "QUIT", syscall.SIGSEGV: "SEGV", syscall.SIGTERM: "TERM", syscall.SIGUSR1: "USR1",
	syscall.SIGUSR2: "USR2",
}

var signalNumbers = func() map[string]syscall.Signal {
	m := map[string]syscall.Signal{}
	for sig, name := range signalNames {
		m[name] = sig
	}
	return m
}()

func sendExitSignal(ch ssh.Channel, sig syscall.Signal) {
	name, ok := signalNames[sig]
	if !ok {
		name = strconv.Itoa(int(sig))
	}
	_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
		Signal     string
		CoreDumped bool
		Error      string
		Lang       string
	}{name, false, "", ""}))
}
