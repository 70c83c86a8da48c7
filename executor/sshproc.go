package executor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// start is the SSH starter: one session channel per command.
//
// It speaks the session protocol itself rather than through ssh.Session,
// whose Wait returns only when the server closes the channel. sshd closes
// it when the command's output reaches EOF, that is when every process
// holding stdout or stderr has closed them: a command that leaves a process
// behind (a daemon started by a script, "sleep 25 &") would block Run for
// that process's lifetime. Here the command is done when its exit status
// arrives; the output still in flight then gets outputGrace to reach EOF,
// and whatever a leftover process writes after that is cut off.
//
// A channel that closes without an exit status (the connection was lost,
// sshd's session process was killed) is never taken for a success: wait
// returns an error.
func (c *sshConn) start(line string, stdout, stderr io.Writer) (proc, error) {
	ch, reqs, err := c.client.OpenChannel("session", nil)
	if err != nil {
		return nil, c.transportErr(fmt.Errorf("open session: %w", err))
	}
	p := &sshProc{ch: ch, exit: make(chan exitStatus, 1), closed: make(chan struct{}), outputDone: make(chan struct{})}
	go watchExit(reqs, p.exit, p.closed)

	ok, err := ch.SendRequest("exec", true, ssh.Marshal(struct{ Command string }{line}))
	if err == nil && !ok {
		err = errors.New("the server refused to run it")
	}
	if err != nil {
		ch.Close()
		return nil, c.transportErr(fmt.Errorf("start command: %w", err))
	}
	var readers sync.WaitGroup
	for _, s := range []struct {
		w io.Writer
		r io.Reader
	}{{stdout, ch}, {stderr, ch.Stderr()}} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := copyBuffers.Get().(*[]byte)
			defer copyBuffers.Put(buf)
			_, _ = io.CopyBuffer(s.w, s.r, *buf)
		}()
	}
	go func() {
		readers.Wait()
		close(p.outputDone)
	}()
	return p, nil
}

// copyBuffers are the buffers that carry commands' output from their
// channels, shared by all connections: a fleet of thousands of hosts would
// otherwise allocate two 32 KiB buffers per command.
var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// sshProc is a command running in a session channel.
type sshProc struct {
	ch         ssh.Channel
	exit       chan exitStatus
	closed     chan struct{}
	outputDone chan struct{}
	abortOnce  sync.Once
}

func (p *sshProc) stdin() io.Writer { return p.ch }

func (p *sshProc) closeStdin() { _ = p.ch.CloseWrite() }

func (p *sshProc) abort() { p.abortOnce.Do(func() { p.ch.Close() }) }

func (p *sshProc) wait() (exitStatus, error) {
	var st exitStatus
	got := false
	select {
	case st = <-p.exit:
		got = true
	case <-p.closed:
		// The channel is gone; an exit status may still have been queued
		// just before.
		select {
		case st = <-p.exit:
			got = true
		default:
		}
	}
	// Output sent before the exit status may still be on its way; output
	// of processes the command left behind is not waited for beyond
	// outputGrace.
	grace := time.NewTimer(outputGrace)
	select {
	case <-p.outputDone:
	case <-grace.C:
	}
	grace.Stop()
	p.abort()
	if !got {
		return exitStatus{code: -1}, errors.New("the channel closed without an exit status")
	}
	return st, nil
}

// watchExit reads a session channel's requests: the first exit-status or
// exit-signal is sent on exit; closed is closed when the channel is
// (closed by the server, or the connection lost).
func watchExit(reqs <-chan *ssh.Request, exit chan<- exitStatus, closed chan<- struct{}) {
	defer close(closed)
	sent := false
	for req := range reqs {
		var st exitStatus
		switch req.Type {
		case "exit-status":
			if len(req.Payload) < 4 {
				continue
			}
			st.code = int(binary.BigEndian.Uint32(req.Payload))
		case "exit-signal":
			var msg struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}
			if ssh.Unmarshal(req.Payload, &msg) != nil {
				continue
			}
			st.signal = msg.Signal
			st.code = 128 + signalNumber(msg.Signal)
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
			continue
		}
		if !sent {
			exit <- st
			sent = true
		}
	}
}

// signalNumbers maps SSH signal names to their Linux numbers (for the
// 128+N exit code shells report).
var signalNumbers = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9,
	"USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
}

// signalNumber maps an SSH signal name to its Linux number (0 if unknown).
func signalNumber(name string) int { return signalNumbers[name] }

// signalName maps a Linux signal number to its SSH name.
func signalName(n int) string {
	for name, num := range signalNumbers {
		if num == n {
			return name
		}
	}
	return fmt.Sprintf("%d", n)
}

// isClosed reports whether the connection is gone.
func (c *sshConn) isClosed() bool {
	select {
	case <-c.gone:
		return true
	default:
		return false
	}
}
