// Package executor runs tend's work on one host: it owns the connection to the
// host (SSH or local), privilege escalation, atomic file writes and the batched
// reading of remote state.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"time"
)

// Conn is the small communicator interface every module talks through. An SSH
// connection and the local connection both implement it. A Conn is safe for
// use by one goroutine at a time.
type Conn interface {
	// Run executes cmd on the host and waits for it to finish. A command that
	// ran and exited non-zero is not an error: look at Result.ExitCode. Errors
	// are transport or escalation failures.
	Run(ctx context.Context, cmd Command) (Result, error)

	// WriteFile atomically replaces path with data and the given attributes:
	// the data goes to a temporary file in the same directory, is synced,
	// gets its mode and owner, and is renamed over path; then the directory
	// is synced, so that the rename survives a crash (best effort; over
	// SFTP only where the server offers fsync@openssh.com, as OpenSSH does,
	// at three more SFTP round trips). A failed write leaves the old file
	// intact and no temporary file behind.
	WriteFile(ctx context.Context, path string, data []byte, attrs FileAttrs) error

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
	// Script is run by /bin/sh -c on the host. It must never hold a secret:
	// it may be visible in the host's process list.
	Script string
	// Stdin, if not nil, is fed to the command's standard input.
	Stdin io.Reader
	// Become runs the command through sudo as BecomeUser (root when empty),
	// if the connection was configured with become.
	Become     bool
	BecomeUser string
	// Timeout bounds the command; zero means the connection's default.
	Timeout time.Duration
}

// Result is what a finished command left behind.
type Result struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

// FileAttrs are the attributes WriteFile gives the new file. Empty Owner or
// Group keep the connection user's (or, with become, root's) default.
type FileAttrs struct {
	Mode  fs.FileMode
	Owner string
	Group string
	// Become writes the file with escalated privileges.
	Become bool
}

// Stats counts what a connection cost, so tests and benchmarks can prove that
// a no-op run takes a small fixed number of round trips.
type Stats struct {
	// RoundTrips counts request/response exchanges with the host after the
	// handshake: one per command run, per SFTP operation, per socket dial.
	RoundTrips int
	// Commands counts commands run.
	Commands int
}

// ErrUnreachable marks errors where the host could not be reached or
// authenticated: the recap reports such hosts as unreachable, not failed.
var ErrUnreachable = errors.New("host unreachable")

// ErrHostKey marks a host key that was refused (unknown or mismatched).
// It wraps ErrUnreachable, so such hosts count as unreachable.
var ErrHostKey = fmt.Errorf("host key verification failed: %w", ErrUnreachable)
