package executor

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
)

//go:embed sh/keep.sh
var keepScript string

//go:embed sh/revert.sh
var revertScript string

// KeepPrefix returns the line that makes a command keep, for a revert,
// what the paths it changes were before run id first changed them (see
// sh/keep.sh): the engine puts it in front of every command of a run that
// may revert. The id must be ValidRunID.
func KeepPrefix(id string) string { return "tend_run=" + id + "\n" }

// ValidRunID reports whether id can name a run's kept state: letters,
// digits and dashes.
func ValidRunID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// revertCommand returns the script that reverts run id.
func revertCommand(id string) string {
	return KeepPrefix(id) + stateScript + "tend_write() (\n" + writeScript + "\n)\n" + revertScript + "tend_revert\n"
}

// Reverted is what a revert did to one path.
type Reverted struct {
	Path string
	// Err is why the path could not be put back, or "".
	Err string
}

// Revert puts back every path run id kept on the host (files with their
// bytes, mode, owner and group; paths that did not exist are removed;
// directories get their mode and owner back), newest change first, in one
// command. Each path's outcome is in the result; err is set when the
// command's own outcome is unknown or it failed as a whole.
func Revert(ctx context.Context, conn Conn, id string, become bool) ([]Reverted, error) {
	if !ValidRunID(id) {
		return nil, fmt.Errorf("revert: invalid run id %q", id)
	}
	res, err := conn.Run(ctx, Command{Script: revertCommand(id), Become: become, BecomeUser: "root"})
	if err != nil {
		return nil, fmt.Errorf("revert: %w", err)
	}
	var out []Reverted
	pathOf := ""
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if p, ok := strings.CutPrefix(l, "@@path "); ok {
			pathOf = p
		} else if _, ok := strings.CutPrefix(l, "revert ok "); ok {
			out = append(out, Reverted{Path: pathOf})
		} else if rest, ok := strings.CutPrefix(l, "revert fail "); ok {
			_, why, _ := strings.Cut(rest, ": ")
			out = append(out, Reverted{Path: pathOf, Err: strings.TrimSpace(why)})
		}
	}
	if res.ExitCode != 0 {
		return out, fmt.Errorf("revert: exit status %d: %s", res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	return out, nil
}

// Keeping returns conn with every command keeping, for run id's revert,
// what the paths it changes were (KeepPrefix in front of its script).
func Keeping(conn Conn, id string) Conn {
	return keepingConn{Conn: conn, prefix: KeepPrefix(id)}
}

type keepingConn struct {
	Conn
	prefix string
}

// Run implements Conn.
func (c keepingConn) Run(ctx context.Context, cmd Command) (Result, error) {
	cmd.Prefix = c.prefix + cmd.Prefix
	return c.Conn.Run(ctx, cmd)
}

// Hold implements Conn: the run lock's holder removes what the run kept
// when the run ends.
func (c keepingConn) Hold(ctx context.Context, cmd Command, ready string) (*Held, []byte, error) {
	cmd.Prefix = c.prefix + cmd.Prefix
	return c.Conn.Hold(ctx, cmd, ready)
}
