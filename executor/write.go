package executor

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

//go:embed sh/trust.sh
var trustScript string

//go:embed sh/write.sh
var writeScript string

// DefaultFileMode is the mode WriteFile gives a file when FileAttrs.Mode is
// zero.
const DefaultFileMode fs.FileMode = 0o644

// FileAttrs are the attributes WriteFile gives the new file. Empty Owner or
// Group keep the writer's (root's with become).
type FileAttrs struct {
	Mode  fs.FileMode
	Owner string
	Group string
	// Become writes the file with escalated privileges.
	Become bool
	// Sensitive keeps what a validate command prints about the file out of
	// errors (it may quote the content).
	Sensitive bool
	// Validate, when not empty, is a command run on the new file before it
	// replaces the old one, like Ansible's validate: "%s" in it stands for
	// the new file's path (e.g. "sshd -t -f %s"). It runs as the writer,
	// in the file's directory; a non-zero exit leaves the old file.
	Validate string
	// Backup keeps the file being replaced beside it, as
	// DEST.YYYY-MM-DD@HH:MM:SS~ (Ansible's backup = yes): a hard link to the
	// old file, made just before the rename.
	Backup bool
}

// ValidateCommand checks a validate command: it must name the new file
// with one or more "%s".
func ValidateCommand(cmd string) error {
	if !strings.Contains(cmd, "%s") {
		return fmt.Errorf("the command must name the file to check with %%s, like \"sshd -t -f %%s\"")
	}
	if strings.ContainsRune(cmd, 0) {
		return fmt.Errorf("the command holds a NUL byte")
	}
	return nil
}

// unixPerm returns the unix permission bits (0o7777 range) of m. It accepts
// both conventions: raw unix bits (0o4755) and Go's fs.ModeSetuid,
// fs.ModeSetgid and fs.ModeSticky flags. Zero means DefaultFileMode.
func unixPerm(m fs.FileMode) uint32 {
	if m == 0 {
		m = DefaultFileMode
	}
	perm := uint32(m & 0o7777)
	if m&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	return perm
}

// WriteScript returns the command that replaces dest with data and attrs
// (the data is the command's Input). WriteFile runs it; it is exported for
// callers that run it as part of their own work.
func WriteScript(dest string, data []byte, attrs FileAttrs) (Command, error) {
	if !path.IsAbs(dest) || path.Clean(dest) != dest || dest == "/" {
		return Command{}, fmt.Errorf("write %s: the path must be absolute and clean", dest)
	}
	for _, a := range []string{attrs.Owner, attrs.Group} {
		if strings.ContainsAny(a, ":\n") {
			return Command{}, fmt.Errorf("write %s: invalid owner or group %q", dest, a)
		}
	}
	sum := sha256.Sum256(data)
	var b strings.Builder
	validate := ""
	if attrs.Validate != "" {
		if err := ValidateCommand(attrs.Validate); err != nil {
			return Command{}, fmt.Errorf("write %s: validate: %w", dest, err)
		}
		// The command sees the new file as "$1".
		validate = strings.ReplaceAll(attrs.Validate, "%s", `"$1"`)
	}
	backup := ""
	if attrs.Backup {
		backup = "yes"
	}
	fmt.Fprintf(&b, "tend_dest=%s tend_mode=%s tend_owner=%s tend_group=%s tend_size=%d tend_sum=%s tend_validate=%s tend_backup=%s\n",
		ShellQuote(dest), "0"+strconv.FormatUint(uint64(unixPerm(attrs.Mode)), 8), ShellQuote(attrs.Owner),
		ShellQuote(attrs.Group), len(data), hex.EncodeToString(sum[:]), ShellQuote(validate), backup)
	b.WriteString(stateScript)
	b.WriteString(writeScript)
	if data == nil {
		data = []byte{}
	}
	return Command{Script: b.String(), Input: data, Become: attrs.Become, BecomeUser: "root"}, nil
}

// WriteFile atomically replaces dest on the host with data and attrs, in
// one command whatever the transport or login: the data travels on the
// command's standard input straight into a private temporary file in dest's
// directory, created there by the user who writes (root with become), and
// is renamed over dest once complete, verified, owned, moded and flushed.
// Nothing passes through a path another user can write: as root, tend
// refuses to work in a directory that someone else could change, unless
// that someone is the file's own owner, in which case the file is written
// as the owner. A failed write leaves dest as it was.
func WriteFile(ctx context.Context, conn Conn, dest string, data []byte, attrs FileAttrs) error {
	cmd, err := WriteScript(dest, data, attrs)
	if err != nil {
		return err
	}
	res, err := conn.Run(ctx, cmd)
	if err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return WriteResult(dest, attrs, res)
}

// TrustedScript returns script prefixed with the check that, as root, only
// root can change entries in dir and above it (see sh/trust.sh): run as
// root, a mkdir, rm or rename there could otherwise be redirected by
// another user to a place of their choosing. When entry is not empty, it is
// the file or directory the script changes in place (chmod, chown): it must
// not be a symbolic link, nor, in a sticky directory, anyone else's. When
// the check fails the script exits 1 and TrustRefusal explains why.
func TrustedScript(dir, entry, script string) string {
	return stateScript + "if ! tend_trust " + ShellQuote(dir) + " '' " + ShellQuote(entry) + " || [ \"$tend_as\" != \"$tend_user\" ]; then\n" +
		"\tprintf 'tend-write-error: trust: %s\\n' " + ShellQuote(dir) + " >&2\n\texit 1\nfi\n" + script
}

// TrustRefusal returns why a TrustedScript (or a write) refused to work,
// or "" when it did not.
func TrustRefusal(res Result) string {
	if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "tend-write-error: trust: ") {
		return ""
	}
	var why []string
	for _, l := range strings.Split(string(res.Stderr), "\n") {
		if t, ok := strings.CutPrefix(l, "tend-trust: "); ok {
			why = append(why, t)
		}
	}
	if len(why) == 0 {
		return "the directory cannot be checked"
	}
	return strings.Join(why, "; ")
}

// ErrNoSpace marks a write that failed because the host's file system is
// full.
var ErrNoSpace = errors.New("no space left on device")

// ErrNotChanged marks a failure that is known to have changed nothing on
// the host (a write that failed before its rename, a refused one).
var ErrNotChanged = errors.New("nothing was changed")

// notChanged wraps err with ErrNotChanged, keeping its message.
type notChanged struct{ err error }

func (e notChanged) Error() string   { return e.err.Error() }
func (e notChanged) Unwrap() []error { return []error{e.err, ErrNotChanged} }

// NotChanged marks err as a failure that changed nothing.
func NotChanged(err error) error { return notChanged{err} }

// preRename are the steps of the write primitive that fail before the
// rename (the rename itself failing leaves the old file too): such a
// failure is known to have changed nothing.
var preRename = map[string]bool{"trust": true, "keep": true, "validate": true, "backup": true, "create": true, "write": true, "short": true, "verify": true, "owner": true, "group": true, "mode": true, "rename": true}

// WriteResult turns the result of a WriteScript command into an error
// that says what went wrong, or nil. A failure the primitive reported
// before its rename wraps ErrNotChanged; any other failure (a signal, no
// error line) leaves the write's outcome unknown.
func WriteResult(dest string, attrs FileAttrs, res Result) error {
	if res.ExitCode == 0 {
		return nil
	}
	err := writeError(dest, attrs, res)
	if res.ExitCode == 1 && preRename[writeStep(res)] {
		return NotChanged(err)
	}
	return fmt.Errorf("%w; the write's outcome is unknown: %w", err, ErrOutcomeUnknown)
}

// writeStep is the step a write primitive reported failing, or "".
func writeStep(res Result) string {
	for _, l := range strings.Split(string(res.Stderr), "\n") {
		if e, ok := strings.CutPrefix(l, "tend-write-error: "); ok {
			step, _, _ := strings.Cut(e, ": ")
			return step
		}
	}
	return ""
}

// writeError says what went wrong in a write.
func writeError(dest string, attrs FileAttrs, res Result) error {
	stderr := string(res.Stderr)
	var trust []string
	step, detail := "", ""
	for _, l := range strings.Split(stderr, "\n") {
		if t, ok := strings.CutPrefix(l, "tend-trust: "); ok {
			trust = append(trust, t)
		}
		if e, ok := strings.CutPrefix(l, "tend-write-error: "); ok && step == "" {
			step, detail, _ = strings.Cut(e, ": ")
		}
	}
	switch {
	case step == "trust":
		who := "root"
		if attrs.Owner != "" {
			who = attrs.Owner
		}
		return fmt.Errorf("write %s: refused: %s, so a file written there as %s could be swapped by another user on the host; fix the directory's permissions, or set owner to the directory's owner (tend then writes it as that user)",
			dest, strings.Join(trust, "; "), who)
	case strings.Contains(detail, "No space left on device"), strings.Contains(detail, "Disk quota exceeded"):
		return fmt.Errorf("write %s: %w in %s (%s); the old file is untouched", dest, ErrNoSpace, path.Dir(dest), strings.TrimSpace(detail))
	case step == "validate" && attrs.Sensitive:
		return fmt.Errorf("write %s: the new file was rejected by its validate command (%s); what it printed is not shown: the content is sensitive; the old file is untouched", dest, attrs.Validate)
	case step == "validate":
		return fmt.Errorf("write %s: the new file was rejected by its validate command (%s): %s; the old file is untouched", dest, attrs.Validate, strings.TrimSpace(detail))
	case step == "create" && strings.Contains(detail, "No such file or directory"):
		return fmt.Errorf("write %s: parent directory %s does not exist; tend does not create it implicitly, add a directory task for it before this one", dest, path.Dir(dest))
	case step != "":
		return fmt.Errorf("write %s: %s: %s", dest, step, strings.TrimSpace(detail))
	}
	return fmt.Errorf("write %s: exit status %d: %s", dest, res.ExitCode, trimOutput(res.Stderr))
}
