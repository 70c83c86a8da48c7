package executor

import (
	"context"
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
// arrives; the output that is still in flight then gets killGrace to reach
// EOF (sshd may send the exit status before the last of the output), and
// whatever the leftover writes after that is cut off, as the local
// connection does with exec.Cmd.WaitDelay.
func (c *sshConn) start(ctx context.Context, line string, stdout, stderr io.Writer) (io.WriteCloser, func() (int, error), error) {
	ch, reqs, err := c.client.OpenChannel("session", nil)
	if err != nil {
		return nil, nil, c.transportErr(fmt.Errorf("open session: %w", err))
	}
	exit := make(chan exitInfo, 1)
	closed := make(chan struct{})
	go watchExit(reqs, exit, closed)

	ok, err := ch.SendRequest("exec", true, ssh.Marshal(struct{ Command string }{line}))
	if err == nil && !ok {
		err = errors.New("the server refused to run it")
	}
	if err != nil {
		ch.Close()
		return nil, nil, c.transportErr(fmt.Errorf("start command: %w", err))
	}

	var readers sync.WaitGroup
	for _, s := range []struct {
		w io.Writer
		r io.Reader
	}{{stdout, ch}, {stderr, ch.Stderr()}} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			_, _ = io.Copy(s.w, s.r)
		}()
	}
	outputDone := make(chan struct{})
	go func() {
		readers.Wait()
		close(outputDone)
	}()

	// Stopping the command: SIGTERM first, SIGKILL after killGrace, then
	// the channel is closed. sshd signals the command's process group as
	// the login user; through sudo that reaches sudo, not the command it
	// runs as another user, but sudo relays SIGTERM to it (SIGKILL would
	// kill sudo alone and leave the command running).
	exited, stopped := make(chan struct{}), make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(stopped)
		sendSignal(ch, ssh.SIGTERM)
		grace := time.NewTimer(killGrace)
		defer grace.Stop()
		select {
		case <-exited:
		case <-grace.C:
			sendSignal(ch, ssh.SIGKILL)
		}
		ch.Close()
	})

	wait := func() (int, error) {
		var info exitInfo
		select {
		case info = <-exit:
		case <-closed:
			select {
			case info = <-exit:
			default:
			}
		}
		close(exited)
		// Output sent before the exit status may still be on its way;
		// output of processes the command left behind is not waited for
		// beyond killGrace.
		grace := time.NewTimer(killGrace)
		select {
		case <-outputDone:
		case <-grace.C:
		}
		grace.Stop()
		ch.Close()
		if !stop() {
			<-stopped
		}
		// Closing the channel ends the readers; a connection that went
		// silent must not hang Run either.
		grace.Reset(killGrace)
		select {
		case <-outputDone:
		case <-grace.C:
		}
		grace.Stop()

		switch {
		case ctx.Err() != nil:
			return -1, ctx.Err()
		case info.signal != "":
			return 128 + signalNumber(info.signal), nil
		case info.status >= 0:
			return info.status, nil
		}
		return -1, c.transportErr(errors.New("the command ended without an exit status (connection lost?)"))
	}
	return channelStdin{ch}, wait, nil
}

// exitInfo is how a remote command ended: an exit status, or the signal
// that killed it; status is -1 while neither is known.
type exitInfo struct {
	status int
	signal string
}

// watchExit reads a session channel's requests: the first exit-status or
// exit-signal is sent on exit; closed is closed when the channel is
// (closed by the server, or the connection lost).
func watchExit(reqs <-chan *ssh.Request, exit chan<- exitInfo, closed chan<- struct{}) {
	defer close(closed)
	sent := false
	for req := range reqs {
		info := exitInfo{status: -1}
		switch req.Type {
		case "exit-status":
			if len(req.Payload) < 4 {
				continue
			}
			info.status = int(binary.BigEndian.Uint32(req.Payload))
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
			info.signal = msg.Signal
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
			continue
		}
		if !sent {
			exit <- info
			sent = true
		}
	}
}

// sendSignal asks the server to deliver sig to the command.
func sendSignal(ch ssh.Channel, sig ssh.Signal) {
	_, _ = ch.SendRequest("signal", false, ssh.Marshal(struct{ Signal string }{string(sig)}))
}

// channelStdin is a command's standard input: Close sends EOF.
type channelStdin struct{ ch ssh.Channel }

func (s channelStdin) Write(p []byte) (int, error) { return s.ch.Write(p) }
func (s channelStdin) Close() error                { return s.ch.CloseWrite() }
