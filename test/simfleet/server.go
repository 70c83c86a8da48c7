package simfleet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// answerer answers the commands and socket conversations of one SSH
// connection.
type answerer interface {
	// exec answers one supervised command: the command line as sent and
	// its standard input (the prologue once the "tend-ok" line is out, the
	// data, heartbeats, then EOF when tend stops or releases it). It writes
	// the output and returns the exit status.
	exec(ctx context.Context, line string, sv supervised, stdin io.Reader, stdout, stderr io.Writer) int
	// socket serves one direct-streamlocal conversation.
	socket(path string, ch ssh.Channel)
}

// serveConn runs the SSH server side of nc with config, handing sessions
// and socket channels to the answerer made for the connection.
func serveConn(nc net.Conn, config *ssh.ServerConfig, newAnswerer func() answerer) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(nc, config)
	if err != nil {
		return
	}
	_ = nc.SetDeadline(time.Time{})
	defer sc.Close()
	go func() {
		for req := range reqs {
			if req.WantReply {
				// Like OpenSSH, keepalives get a failure: any answer will do.
				req.Reply(false, nil)
			}
		}
	}()
	a := newAnswerer()
	var wg sync.WaitGroup
	defer wg.Wait()
	for newCh := range chans {
		switch newCh.ChannelType() {
		case "session":
			wg.Add(1)
			go func() {
				defer wg.Done()
				session(newCh, a)
			}()
		case "direct-streamlocal@openssh.com":
			var msg struct {
				SocketPath string
				Reserved0  string
				Reserved1  uint32
			}
			if err := ssh.Unmarshal(newCh.ExtraData(), &msg); err != nil {
				newCh.Reject(ssh.Prohibited, "simfleet: bad direct-streamlocal request")
				continue
			}
			ch, creqs, err := newCh.Accept()
			if err != nil {
				continue
			}
			go ssh.DiscardRequests(creqs)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer ch.Close()
				a.socket(msg.SocketPath, ch)
			}()
		default:
			newCh.Reject(ssh.UnknownChannelType, "simfleet: unsupported channel type")
		}
	}
}

// session serves one session channel: one exec request of a supervised
// command.
func session(newCh ssh.NewChannel, a answerer) {
	ch, reqs, err := newCh.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	started := false
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	for req := range reqs {
		if req.Type != "exec" || started {
			if req.WantReply {
				req.Reply(req.Type == "env", nil)
			}
			continue
		}
		var msg struct{ Command string }
		if ssh.Unmarshal(req.Payload, &msg) != nil {
			req.Reply(false, nil)
			continue
		}
		started = true
		req.Reply(true, nil)
		go func() {
			defer close(done)
			status := runSupervised(ctx, a, msg.Command, ch)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
			ch.Close()
		}()
	}
	cancel()
	if started {
		<-done
	}
}

// runSupervised has the answerer answer a supervised command.
func runSupervised(ctx context.Context, a answerer, line string, ch ssh.Channel) int {
	sv, err := parseCommandLine(line)
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "simfleet: %v\n", err)
		return 127
	}
	return a.exec(ctx, line, sv, ch, ch, ch.Stderr())
}

// readInput reads a supervised command's prologue and data, as the boot
// script does.
func readInput(sv supervised, stdin io.Reader) (prologue, data []byte, err error) {
	prologue = make([]byte, sv.prologueLen)
	if _, err := io.ReadFull(stdin, prologue); err != nil {
		return nil, nil, err
	}
	if sv.input > 0 {
		data = make([]byte, sv.input)
		if _, err := io.ReadFull(stdin, data); err != nil {
			return nil, nil, err
		}
	}
	return prologue, data, nil
}

// replayer answers from a recording. Each connection answers the
// exchanges of one key in recorded order (repeating the last), as the host
// did.
type replayer struct {
	byKey   map[string][]*Exchange
	sockets map[string]*SocketExchange
	delay   time.Duration
	misses  *atomic.Int64

	mu   sync.Mutex
	used map[string]int
}

func newReplayIndex(r *Recording) (map[string][]*Exchange, map[string]*SocketExchange) {
	byKey := map[string][]*Exchange{}
	for i := range r.Exchanges {
		e := &r.Exchanges[i]
		k := e.Script + "\x00" + e.Data
		byKey[k] = append(byKey[k], e)
	}
	sockets := map[string]*SocketExchange{}
	for i := range r.Sockets {
		sockets[r.Sockets[i].Path] = &r.Sockets[i]
	}
	return byKey, sockets
}

func (p *replayer) exec(ctx context.Context, line string, sv supervised, stdin io.Reader, stdout, stderr io.Writer) int {
	io.WriteString(stderr, "tend-ok-"+sv.token+"\n")
	prologue, data, err := readInput(sv, stdin)
	if err != nil {
		return 124
	}
	script, err := scriptOf(prologue)
	if err != nil {
		fmt.Fprintf(stderr, "simfleet: %v\n", err)
		return 127
	}
	if p.delay > 0 {
		select {
		case <-time.After(p.delay):
		case <-ctx.Done():
			return 124
		}
	}
	nscript, ndata, vals := Normalize(script, string(data))
	k := nscript + "\x00" + ndata
	list := p.byKey[k]
	if len(list) == 0 {
		p.misses.Add(1)
		fmt.Fprintf(stderr, "simfleet: no recorded answer for this command (script %.200q)\n", nscript)
		return 125
	}
	p.mu.Lock()
	n := p.used[k]
	p.used[k]++
	p.mu.Unlock()
	e := list[min(n, len(list)-1)]
	vals = append(vals, sv.token)
	io.WriteString(stdout, concrete(e.Stdout, vals))
	if e.UntilEOF {
		// A held command (the run lock) runs until tend releases it.
		_, _ = io.Copy(io.Discard, stdin)
	} else {
		go func() { _, _ = io.Copy(io.Discard, stdin) }()
	}
	io.WriteString(stderr, concrete(e.Stderr, vals))
	return e.Exit
}

func (p *replayer) socket(path string, ch ssh.Channel) {
	s := p.sockets[path]
	if s == nil {
		p.misses.Add(1)
		return
	}
	// Read the request (an HTTP request ends with an empty line, or the
	// client half-closes), then answer.
	var req []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(req, []byte("\r\n\r\n")) && len(req) < 1<<20 {
		n, err := ch.Read(buf)
		req = append(req, buf[:n]...)
		if err != nil {
			break
		}
	}
	io.WriteString(ch, concreteTimes(s.Response, time.Now()))
	ch.CloseWrite()
}

// recorder forwards one connection's commands to a real host and records
// the exchanges.
type recorder struct {
	upstream *ssh.Client
	rec      *Recording
	mu       *sync.Mutex
}

func (p *recorder) exec(ctx context.Context, line string, sv supervised, stdin io.Reader, stdout, stderr io.Writer) int {
	sess, err := p.upstream.NewSession()
	if err != nil {
		fmt.Fprintf(stderr, "simfleet: upstream: %v\n", err)
		return 255
	}
	defer sess.Close()
	var out, errb syncBuffer
	sess.Stdout = io.MultiWriter(&out, stdout)
	sess.Stderr = io.MultiWriter(&errb, stderr)
	in, err := sess.StdinPipe()
	if err != nil {
		return 255
	}
	if err := sess.Start(line); err != nil {
		fmt.Fprintf(stderr, "simfleet: upstream: %v\n", err)
		return 255
	}
	// The input goes on as it comes, the prologue and data copied aside;
	// a command that ends only after tend's EOF is a held one.
	var input syncBuffer
	limit := int64(sv.prologueLen + max(sv.input, 0))
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.MultiWriter(in, &input), io.LimitReader(stdin, limit))
		_, _ = io.Copy(in, stdin)
		close(eof)
		in.Close()
	}()
	status := 0
	if err := sess.Wait(); err != nil {
		if ee, ok := err.(*ssh.ExitError); ok {
			status = ee.ExitStatus()
		} else {
			status = 255
		}
	}
	held := false
	select {
	case <-eof:
		held = true
	default:
	}
	prologue, data, err := readInput(sv, strings.NewReader(input.String()))
	if err != nil {
		return status
	}
	script, err := scriptOf(prologue)
	if err != nil {
		return status
	}
	stderrText := errb.String()
	ok := "tend-ok-" + sv.token + "\n"
	if i := strings.Index(stderrText, ok); i >= 0 {
		stderrText = stderrText[i+len(ok):]
	}
	nscript, ndata, vals := Normalize(script, string(data))
	vals = append(vals, sv.token)
	p.mu.Lock()
	p.rec.Exchanges = append(p.rec.Exchanges, Exchange{
		Script: nscript, Data: ndata,
		Stdout: abstract(out.String(), vals), Stderr: abstract(stderrText, vals), Exit: status, UntilEOF: held,
	})
	p.mu.Unlock()
	return status
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (p *recorder) socket(path string, ch ssh.Channel) {
	conn, err := p.upstream.Dial("unix", path)
	if err != nil {
		return
	}
	defer conn.Close()
	var req, resp bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.MultiWriter(conn, &req), ch)
		done <- struct{}{}
	}()
	_, _ = io.Copy(io.MultiWriter(ch, &resp), conn)
	ch.CloseWrite()
	p.mu.Lock()
	p.rec.Sockets = append(p.rec.Sockets, SocketExchange{Path: path, Request: req.String(), Response: abstractTimes(resp.String())})
	p.mu.Unlock()
}
