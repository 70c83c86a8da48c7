// Package hclfmt formats tend's HCL files — playbooks, inventories, var
// files — in the canonical style of hclwrite, and only ever changes their
// layout: a file that does not parse is refused, and a formatted result
// whose tokens differ from the original's is refused too.
package hclfmt

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical layout. filename names src in
// diagnostics. It returns error diagnostics, and no output, when src does
// not parse.
func Format(filename string, src []byte) ([]byte, hcl.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	out := hclwrite.Format(src)
	if !sameTokens(filename, src, out) {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot format this file safely",
			Detail: fmt.Sprintf("Formatting %s would change more than its layout; it was left as it is. Please report this as a bug in tend.", filename)}}
	}
	return out, nil
}

// sameTokens reports whether a and b are the same tokens, whitespace aside.
func sameTokens(filename string, a, b []byte) bool {
	ta, da := hclsyntax.LexConfig(a, filename, hcl.InitialPos)
	tb, db := hclsyntax.LexConfig(b, filename, hcl.InitialPos)
	if da.HasErrors() || db.HasErrors() {
		return false
	}
	significant := func(ts hclsyntax.Tokens) [][]byte {
		var out [][]byte
		for _, t := range ts {
			switch t.Type {
			case hclsyntax.TokenNewline, hclsyntax.TokenEOF:
				continue
			case hclsyntax.TokenComment:
				// hclwrite trims trailing space of comments and may turn
				// a line comment's newline into the next token's.
				out = append(out, bytes.TrimSpace(t.Bytes))
				continue
			}
			out = append(out, t.Bytes)
		}
		return out
	}
	sa, sb := significant(ta), significant(tb)
	if len(sa) != len(sb) {
		return false
	}
	for i := range sa {
		if !bytes.Equal(sa[i], sb[i]) {
			return false
		}
	}
	return true
}

// Files lists the .hcl files that paths stand for: a file as given
// (whatever its name), a directory's .hcl files at any depth, except in
// hidden directories (.git, .terraform) and in testdata directories,
// which by convention hold inputs kept as they are on purpose. Name such
// a directory explicitly to format it.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".hcl") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WriteFile replaces path's contents, which were old when they were read,
// with data atomically: a temporary file in the same directory, with
// path's mode (and owner, when the process may set it), renamed over it. A
// symbolic link stays a link: the file it points to is replaced. A file
// that is read-only, or that the process may not write, is left alone
// (renaming over it would replace it all the same), and so is one whose contents are no longer old: an
// edit made since it was read is not overwritten.
func WriteFile(path string, old, data []byte) error {
	path, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o222 == 0 {
		// Also for root, who may write it: someone made it read-only.
		return fmt.Errorf("not rewritten: the file is read-only (mode %04o)", fi.Mode().Perm())
	}
	if err := syscall.Access(path, 2 /* W_OK */); err != nil {
		return fmt.Errorf("not rewritten: the file is not writable (%w)", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tend-fmt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid()) {
		// Best effort: only root may give a file away.
		_ = tmp.Chown(int(st.Uid), int(st.Gid))
	}
	// After the owner: a change of owner may clear setuid and setgid.
	if err := tmp.Chmod(fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	now, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(now, old) {
		return errors.New("not rewritten: the file changed while it was being formatted")
	}
	return os.Rename(tmp.Name(), path)
}
