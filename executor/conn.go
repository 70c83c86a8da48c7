// Package executor runs tend's work on one host: it owns the connection to the
// host (SSH or local), privilege escalation, the supervision of remote
// commands (they stop when tend stops wanting them), the one atomic write
// primitive and the batched reading of remote state.
package executor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Conn is the small communicator interface every module talks through. An SSH
// connection and the local connection both implement it; sudo wraps the
// command, not the transport. A Conn is safe for concurrent use.
type Conn interface {
	// Run executes cmd on the host and waits for it to finish. A command that
	// ran and exited non-zero is not an error: look at Result.ExitCode.
	//
	// Errors say what is known: a *StopError when tend stopped the command
	// (timeout, interruption) or the host did (no heartbeat, deadline); a
	// *LostError wrapping ErrOutcomeUnknown when the command's exit status
	// never arrived, so that nobody knows whether it ran to the end (and
	// ErrUnreachable too when the connection itself is gone); escalation
	// and start failures otherwise. A command tend gives up on is stopped on the host
	// (see the supervisor), whatever the login.
	Run(ctx context.Context, cmd Command) (Result, error)

	// Hold starts cmd and returns once its standard output holds ready (the
	// output so far is returned), leaving it running until Release. It is
	// for commands that hold something for the whole run, such as the run
	// lock; they get heartbeats, no deadline, and stop on the host when the
	// connection goes.
	Hold(ctx context.Context, cmd Command, ready string) (*Held, []byte, error)

	// DialUnix opens a stream to a unix socket on the host (through the SSH
	// connection itself, with direct-streamlocal, for SSH hosts).
	DialUnix(ctx context.Context, path string) (net.Conn, error)

	// Host describes the host this connection reaches, for messages.
	Host() string

	// Stats reports what the connection has cost so far.
	Stats() Stats

	// Close ends the connection.
	Close() error
}

// Command is one command to run on a host.
type Command struct {
	// Script is run by /bin/sh on the host. It must never hold a secret:
	// it may be visible in the host's process list.
	Script string
	// Prefix is run first, in the same shell: the variable settings that
	// wrappers put in front of every command (a run's keep id), kept apart
	// so that Script — tens of KiB for a state read — is not copied for
	// each of them. The same rule holds: never a secret.
	Prefix string
	// Input, when not nil, is exactly the command's standard input (it may
	// hold secrets: it never appears in a process list). Without it, the
	// command's standard input is /dev/null.
	Input []byte
	// Become runs the command through sudo as BecomeUser (root when empty),
	// if the connection was configured with become.
	Become     bool
	BecomeUser string
	// Timeout bounds the command; zero means the connection's default
	// (DefaultCommandTimeout unless configured).
	Timeout time.Duration
	// Extra is added to the timeout: time the command is known to spend
	// waiting on purpose (settle checks).
	Extra time.Duration
}

// Result is what a finished command left behind.
type Result struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

// Stats counts what a connection cost, so tests and benchmarks can prove that
// a no-op run takes a small fixed number of round trips.
type Stats struct {
	// RoundTrips counts request/response exchanges with the host after the
	// handshake: one per command run or held, per socket dial.
	RoundTrips int
	// Commands counts commands run.
	Commands int
}

// DefaultCommandTimeout bounds a command that sets no timeout of its own
// when the connection sets no default either.
const DefaultCommandTimeout = 10 * time.Minute

// ErrUnreachable marks errors where the host could not be reached or
// authenticated, or the connection was lost: the recap reports such hosts as
// unreachable, not failed.
var ErrUnreachable = errors.New("host unreachable")

// ErrOutcomeUnknown marks a command whose exit status never arrived.
var ErrOutcomeUnknown = errors.New("outcome unknown")

// ErrHostKey marks a host key that was refused (unknown or mismatched).
// It wraps ErrUnreachable, so such hosts count as unreachable.
var ErrHostKey = fmt.Errorf("host key verification failed: %w", ErrUnreachable)

// StopError is a command that was stopped before it finished.
type StopError struct {
	// Why says what asked for the stop: "timed out after 3s",
	// "interrupted", or, when the host stopped it by itself, "no heartbeat
	// from tend" or "its deadline passed".
	Why string
	// Confirmed reports that the host confirmed the stop (the command's
	// whole session was sent SIGTERM, then SIGKILL). When false, the
	// confirmation never came (Cause says why); the host still stops the
	// command by itself when tend's heartbeats stop.
	Confirmed bool
	// ByHost is set when the host stopped the command without tend asking.
	ByHost bool
	// NotStarted is set when the command was never started: the stop came
	// first.
	NotStarted bool
	// Cause is the context error (context.DeadlineExceeded, Canceled) or,
	// for an unconfirmed stop, the transport's error.
	Cause error
}

func (e *StopError) Error() string {
	switch {
	case e.NotStarted:
		return e.Why + " before it started"
	case e.ByHost:
		return "stopped on the host: " + e.Why
	case e.Confirmed:
		return e.Why + "; the command was stopped on the host"
	}
	return fmt.Sprintf("%s; the stop was not confirmed (%v): the host stops the command by itself once tend's heartbeats stop", e.Why, e.Cause)
}

// Unwrap returns the cause.
func (e *StopError) Unwrap() error { return e.Cause }
