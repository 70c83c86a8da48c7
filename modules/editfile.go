package modules

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
)

// editedFile is what line_in_file and block_in_file share: a regular file
// whose new content tend computes from its current one, in Check, and
// writes whole through fileSpec (atomically, keeping its mode and owner,
// with validate and backup). plan shows the unified diff of the file.
type editedFile struct {
	spec fileSpec
	// create makes a missing file (state present); without it a missing
	// file is an error.
	create bool
	// absent: a missing file is already without what the task removes.
	absent bool
}

// probes reads the file (content up to executor.MaxProbeContent).
func (f *editedFile) probes() []executor.Probe {
	return []executor.Probe{{Kind: executor.ProbeFile, Path: f.spec.Path, Become: true}}
}

// check computes the file's new content with edit, which returns the
// content of the file edited and whether it changed (old is nil for a
// missing file), and returns what differs.
func (f *editedFile) check(t *Target, edit func(old []byte) ([]byte, bool)) (*Diff, error) {
	p := f.spec.Path
	cur := t.State.File(p)
	if cur == nil {
		return nil, fmt.Errorf("%s: the file's state was not gathered", p)
	}
	d := &Diff{}
	if !cur.Exists {
		if f.absent {
			return d, nil
		}
		if !f.create {
			return nil, fmt.Errorf("%s does not exist (set create = true to create it)", p)
		}
	} else {
		if cur.Type != "file" {
			return nil, fmt.Errorf("%s exists but is a %s, not a regular file; tend edits only regular files (give the path of the file a symlink points to)", p, cur.Type)
		}
		if cur.Truncated || cur.Content == nil && cur.Size > 0 {
			return nil, fmt.Errorf("%s is larger than %d MiB (%d bytes): tend edits lines only in files whose whole content it reads; manage it with a file task", p, executor.MaxProbeContent>>20, cur.Size)
		}
	}
	content, changed := edit(cur.Content)
	if !cur.Exists && !changed {
		// Nothing to write (backrefs that match nothing, an empty block):
		// the file is not created.
		return d, nil
	}
	spec := f.spec
	spec.Content = content
	if _, err := spec.check(cur, d); err != nil {
		return nil, err
	}
	return d, nil
}

// apply makes d's changes: the new content, mode and ownership.
func (f *editedFile) apply(ctx context.Context, t *Target, d *Diff) error {
	return f.spec.apply(ctx, t, t.State.File(f.spec.Path), d)
}

// decode reads the attributes every edited file takes: the path, mode,
// owner, group, validate, backup, create and sensitive. secret is set when
// the text the task puts in the file came from a sensitive value: the diff
// is hidden then too, and a file created for it is 0600 unless mode says
// otherwise.
func (f *editedFile) decode(body hcl.Body, dec decoded, p, mode, owner, group, validate *string, backup, create, sensitive *bool, secret bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if p != nil {
		clean, err := cleanAbsPath(*p)
		if err == nil && strings.HasSuffix(*p, "/") {
			err = fmt.Errorf("%q ends with \"/\", like a directory: give the path of the file to edit", *p)
		}
		if err != nil {
			diags = append(diags, errAt(body, "path", "Invalid file path", err.Error()))
		}
		f.spec.Path = clean
	}
	f.spec.DefaultMode = defaultFileMode
	own, odiags := decodeOwnership(body, dec, mode, owner, group)
	f.spec.ownership = own
	diags = append(diags, odiags...)
	f.create = create != nil && *create
	f.spec.Sensitive = (sensitive != nil && *sensitive) || secret
	if f.spec.Sensitive && !f.spec.HasMode {
		f.spec.DefaultMode = sensitiveFileMode
	}
	return append(diags, f.spec.decodeWriteOptions(body, dec, validate, backup)...)
}
