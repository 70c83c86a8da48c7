package modules

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/executor"
)

// defaultFileMode is the mode of a new file whose mode was not given.
const defaultFileMode fs.FileMode = 0o644

// ownership is the optional mode, owner and group of a file or directory.
type ownership struct {
	Mode    fs.FileMode
	HasMode bool
	Owner   string
	Group   string
}

// decodeOwnership validates the mode, owner and group attributes. dec says
// which of them were numbers before gohcl made strings of them.
func decodeOwnership(body hcl.Body, dec decoded, mode, owner, group *string) (ownership, hcl.Diagnostics) {
	var o ownership
	var diags hcl.Diagnostics
	if mode != nil {
		if dec.types["mode"] == cty.Number {
			diags = append(diags, errAt(body, "mode", "Invalid mode", numericModeDetail(*mode)))
		} else if m, err := parseMode(*mode); err != nil {
			diags = append(diags, errAt(body, "mode", "Invalid mode", err.Error()))
		} else {
			o.Mode, o.HasMode = m, true
		}
	}
	for _, a := range []struct {
		name string
		val  *string
		dst  *string
	}{{"owner", owner, &o.Owner}, {"group", group, &o.Group}} {
		if a.val == nil {
			continue
		}
		if err := validAccount(*a.val); err != nil {
			diags = append(diags, errAt(body, a.name, "Invalid "+a.name, err.Error()))
			continue
		}
		if isAllDigits(*a.val) {
			diags = append(diags, errAt(body, a.name, "Invalid "+a.name,
				fmt.Sprintf("%q is a numeric id: give the %s's name, which is what tend reads back from the host.", *a.val, a.name)))
			continue
		}
		*a.dst = *a.val
	}
	return o, diags
}

// numericModeDetail explains why a mode given as a number (shown in its
// decimal form, as gohcl converted it) is refused.
func numericModeDetail(n string) string {
	want := "0644"
	if modeRe.MatchString(n) {
		want = n
		if len(want) == 3 {
			want = "0" + want
		}
	}
	return fmt.Sprintf("mode = %s is a number, and HCL numbers are decimal (0644 is read as 644): a mode must be a string of octal digits, in quotes. Write mode = %q.", n, want)
}

func isAllDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// checkOwnership appends mode, owner and group changes. For a path that does
// not exist yet, the wanted values are shown as new values.
func (o ownership) check(cur *executor.FileState, d *Diff) {
	exists := cur != nil && cur.Exists
	if o.HasMode && (!exists || cur.Mode != o.Mode) {
		c := Change{Attr: "mode", New: formatMode(o.Mode)}
		if exists {
			c.Old = formatMode(cur.Mode)
		}
		d.Add(c)
	}
	if o.Owner != "" && (!exists || cur.Owner != o.Owner) {
		c := Change{Attr: "owner", New: o.Owner}
		if exists {
			c.Old = cur.Owner
		}
		d.Add(c)
	}
	if o.Group != "" && (!exists || cur.Group != o.Group) {
		c := Change{Attr: "group", New: o.Group}
		if exists {
			c.Old = cur.Group
		}
		d.Add(c)
	}
}

// chownChmodScript returns the commands that apply the owner, group and mode
// changes of d to p (chown before chmod: chown may clear set-id bits), or ""
// when there are none. want is the declared ownership: when only the owner
// or group changes, a declared mode with set-id or sticky bits is set again,
// since chown clears them.
func chownChmodScript(p string, d *Diff, want ownership) (string, error) {
	var cmds []string
	owner, group := d.Change("owner"), d.Change("group")
	switch {
	case owner != nil && group != nil:
		cmds = append(cmds, "chown -- "+executor.ShellQuote(owner.New+":"+group.New)+" "+executor.ShellQuote(p))
	case owner != nil:
		cmds = append(cmds, "chown -- "+executor.ShellQuote(owner.New)+" "+executor.ShellQuote(p))
	case group != nil:
		cmds = append(cmds, "chgrp -- "+executor.ShellQuote(group.New)+" "+executor.ShellQuote(p))
	}
	if c := d.Change("mode"); c != nil {
		if _, err := parseMode(c.New); err != nil {
			return "", fmt.Errorf("mode change of %s: %w", p, err)
		}
		cmds = append(cmds, "chmod -- "+c.New+" "+executor.ShellQuote(p))
	} else if len(cmds) > 0 && want.HasMode && want.Mode&0o7000 != 0 {
		cmds = append(cmds, "chmod -- "+formatMode(want.Mode)+" "+executor.ShellQuote(p))
	}
	return strings.Join(cmds, " && "), nil
}

// runScript runs script on the target and turns a non-zero exit into an
// error that carries the tail of the command's output. what names the step.
func runScript(ctx context.Context, t *Target, what, script string, become bool) (executor.Result, error) {
	res, err := t.Conn.Run(ctx, executor.Command{Script: script, Become: become})
	if err != nil {
		return res, fmt.Errorf("%s: %w", what, err)
	}
	if res.ExitCode != 0 {
		return res, fmt.Errorf("%s: exit status %d%s", what, res.ExitCode, outputTail(res))
	}
	return res, nil
}

// runTrusted runs script, which changes entries of dir as root (entry in
// place, when not empty), only where nobody but root can swap them
// (executor.TrustedScript). hint, when not empty, follows the message of a
// script that exits non-zero.
func runTrusted(ctx context.Context, t *Target, what, dir, entry, script, hint string) error {
	res, err := t.Conn.Run(ctx, executor.Command{Script: executor.TrustedScript(dir, entry, script), Become: t.Become})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if why := executor.TrustRefusal(res); why != "" {
		return executor.NotChanged(fmt.Errorf("%s: refused: %s, so another user on the host could swap what root changes there; fix the directory's permissions", what, why))
	}
	if res.ExitCode != 0 {
		if hint != "" {
			hint = " (" + hint + ")"
		}
		return fmt.Errorf("%s: exit status %d%s%s", what, res.ExitCode, hint, outputTail(res))
	}
	return nil
}

// keepFirst returns script preceded by keeping what p is, so that a run
// that fails later can put it back (it does nothing unless the run keeps:
// see executor.Keeping).
func keepFirst(p, script string) string {
	return keepCall(p, executor.ShellQuote(p)) + script
}

// keepAttrsFirst is keepFirst for a change of mode or ownership only: the
// file's content is not copied, and a revert changes them back in place.
func keepAttrsFirst(p, script string) string {
	return keepCall(p, executor.ShellQuote(p)+" attrs") + script
}

func keepCall(p, args string) string {
	return "tend_keep " + args + " || { echo 'tend: what " + strings.ReplaceAll(p, "'", "") + " was could not be kept for a revert' >&2; exit 1; }\n"
}

// outputTail formats the end of a result's stderr and stdout for an error
// message ("" when both are empty).
func outputTail(res executor.Result) string {
	var b strings.Builder
	if s := tail(res.Stderr, 1500); s != "" {
		b.WriteString("\nstderr:\n" + indent(s))
	}
	if s := tail(res.Stdout, 1500); s != "" {
		b.WriteString("\nstdout:\n" + indent(s))
	}
	return b.String()
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// decodeWriteOptions reads the validate and backup attributes that every
// module writing a whole file takes.
func (f *fileSpec) decodeWriteOptions(body hcl.Body, dec decoded, validate *string, backup *bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if validate != nil {
		if err := executor.ValidateCommand(*validate); err != nil {
			diags = append(diags, errAt(body, "validate", "Invalid validate command", err.Error()+"."))
		} else {
			f.Validate = *validate
		}
	}
	if backup != nil {
		f.Backup = *backup
	}
	return diags
}

// Doc strings of the attributes every file-writing module takes: a field
// validate or backup without a doc tag gets them (see attrDoc).
const (
	validateDoc = "A command that checks the new file before it replaces the old one, \"%s\" standing for the new file's path (\"sshd -t -f %s\", \"visudo -cf %s\"); a non-zero exit leaves the old file and fails the task."
	backupDoc   = "Keep the file being replaced beside it, as PATH.YYYY-MM-DD@HH:MM:SS~ (a hard link: the old file as it was)."
)

// fileSpec is the desired state of one regular file with known content.
type fileSpec struct {
	Path    string
	Content []byte
	ownership
	// DefaultMode is the mode of a new file when no mode was given.
	DefaultMode fs.FileMode
	Sensitive   bool
	// Validate is run on the new file before it replaces the old one
	// (executor.FileAttrs.Validate).
	Validate string
	// Backup keeps the file being replaced beside it
	// (executor.FileAttrs.Backup).
	Backup bool
	// QuietCreate leaves the mode, owner and group out of the diff of a new
	// file (they are implied, as for unit files); Apply still sets them.
	QuietCreate bool
}

// secretFiles is SecretFiler's answer for the file: its path when its
// content is sensitive.
func (f *fileSpec) secretFiles() []string {
	if f.Sensitive {
		return []string{f.Path}
	}
	return nil
}

// check appends to d what differs between the file and cur, and reports
// whether the content differs.
func (f *fileSpec) check(cur *executor.FileState, d *Diff) (bool, error) {
	if cur == nil {
		return false, fmt.Errorf("%s: the file's state was not gathered", f.Path)
	}
	if cur.Exists && cur.Type != "file" {
		return false, fmt.Errorf("%s exists but is a %s, not a regular file; tend will not replace it", f.Path, cur.Type)
	}
	if !cur.Exists {
		d.Add(Change{Attr: "exists", Old: "absent", New: "present", Path: f.Path})
		d.Add(f.contentChange(nil, "", ""))
		if !f.QuietCreate {
			f.ownership.check(cur, d)
			if !f.HasMode && f.DefaultMode != defaultFileMode {
				// Not the usual default (a sensitive file, an
				// authorized_keys file): the plan shows the mode the new
				// file gets, and a plan's later tasks see it.
				d.Add(Change{Attr: "mode", New: formatMode(f.DefaultMode)})
			}
		}
		return true, nil
	}
	changed := false
	if cur.Truncated {
		sum := sha256.Sum256(f.Content)
		want := hex.EncodeToString(sum[:])
		if want != cur.SHA256 {
			changed = true
			c := f.contentChange(nil, "sha256:"+shortSum(cur.SHA256), "sha256:"+shortSum(want))
			c.Digest = cur.SHA256 + c.Digest
			d.Add(c)
			d.Notes = append(d.Notes, fmt.Sprintf("%s is larger than %d MiB on the host: only its SHA-256 was compared", f.Path, executor.MaxProbeContent>>20))
		}
	} else if !bytes.Equal(cur.Content, f.Content) {
		changed = true
		d.Add(f.contentChange(cur.Content, "", ""))
	}
	if changed && f.Backup {
		d.Notes = append(d.Notes, fmt.Sprintf("the current %s is kept as %s.<date>@<time>~", f.Path, path.Base(f.Path)))
	}
	f.ownership.check(cur, d)
	return changed, nil
}

func shortSum(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func (f *fileSpec) contentChange(old []byte, oldShow, newShow string) Change {
	c := Change{Attr: "content", Path: f.Path, OldContent: old, NewContent: f.Content, Old: oldShow, New: newShow}
	if old != nil {
		sum := sha256.Sum256(old)
		c.Digest = hex.EncodeToString(sum[:])
	}
	if f.Validate != "" {
		c.Digest += " validate " + f.Validate
	}
	if f.Backup {
		c.Digest += " backup"
	}
	if f.Sensitive {
		// Apply needs the new content; the old one is not carried at all.
		c.Sensitive, c.OldContent, c.Old, c.New = true, nil, "", "(sensitive content changed)"
	}
	return c
}

// apply makes the file changes of d: it writes the content when it changes
// (atomically, with the wanted or the current mode and ownership), and
// otherwise changes only ownership and mode. cur is the state Check saw.
func (f *fileSpec) apply(ctx context.Context, t *Target, cur *executor.FileState, d *Diff) error {
	c := d.Change("content")
	if c == nil {
		script, err := chownChmodScript(f.Path, d, f.ownership)
		if err != nil || script == "" {
			return err
		}
		return runTrusted(ctx, t, "set owner/mode of "+f.Path, path.Dir(f.Path), f.Path, keepAttrsFirst(f.Path, script), "")
	}
	// The change is sensitive also when another task declares the file
	// secret (HideSecretFiles): what validate prints may be the file.
	attrs := executor.FileAttrs{Mode: f.DefaultMode, Become: t.Become, Validate: f.Validate, Sensitive: f.Sensitive || c.Sensitive, Backup: f.Backup}
	if cur != nil && cur.Exists {
		// Keep what the user did not ask to change.
		attrs.Mode, attrs.Owner, attrs.Group = cur.Mode, cur.Owner, cur.Group
	}
	if m := d.Change("mode"); m != nil {
		mode, err := parseMode(m.New)
		if err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		attrs.Mode = mode
	} else if f.HasMode {
		attrs.Mode = f.Mode
	}
	if o := d.Change("owner"); o != nil {
		attrs.Owner = o.New
	} else if f.Owner != "" {
		attrs.Owner = f.Owner
	}
	if g := d.Change("group"); g != nil {
		attrs.Group = g.New
	} else if f.Group != "" {
		attrs.Group = f.Group
	}
	return executor.WriteFile(ctx, t.Conn, f.Path, c.NewContent, attrs)
}
