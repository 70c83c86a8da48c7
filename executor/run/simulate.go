package run

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"maps"
	"strconv"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/modules"
)

// afterPlanned returns st as the host's files will be once d is applied,
// for plan: a later task of the play that reads a file an earlier one
// changes (two line_in_file tasks on /etc/login.defs) then shows its
// change on top of the earlier one — what apply, which reads the file
// again before each task, will do — and a saved plan's fingerprints match
// what apply computes. Only the files d names change (content, existence,
// and the mode, owner and group of a diff about one file); st itself is
// not modified: it may be shared with other plays.
func afterPlanned(st *executor.State, d *modules.Diff) *executor.State {
	if st == nil || d == nil {
		return st
	}
	var files map[string]*executor.FileState
	edit := func(p string) *executor.FileState {
		if files == nil {
			files = maps.Clone(st.Files)
		}
		f := &executor.FileState{Path: p}
		if cur := files[p]; cur != nil {
			c := *cur
			f = &c
		}
		files[p] = f
		return f
	}
	paths := map[string]bool{}
	for _, c := range d.Changes {
		if c.Path == "" {
			continue
		}
		switch c.Attr {
		case "content":
			if c.NewContent == nil && c.Sensitive {
				continue
			}
			f := edit(c.Path)
			sum := sha256.Sum256(c.NewContent)
			f.Exists, f.Type, f.Content, f.Truncated = true, "file", c.NewContent, false
			f.Size, f.SHA256 = int64(len(c.NewContent)), hex.EncodeToString(sum[:])
			paths[c.Path] = true
		case "exists":
			switch c.New {
			case "absent":
				*edit(c.Path) = executor.FileState{Path: c.Path}
			case "present":
				// A new file: the mode and ownership the write gives it
				// unless d changes them (below). Modules whose new files
				// get another mode than 0644 show it as a change.
				f := edit(c.Path)
				f.Mode, f.Owner, f.Group = 0o644, st.Facts.EffectiveUser, ""
				if f.Owner == "root" {
					f.Group = "root"
				}
			}
			paths[c.Path] = true
		}
	}
	if len(paths) == 1 {
		for p := range paths {
			if f := files[p]; f != nil && f.Exists {
				for _, c := range d.Changes {
					switch c.Attr {
					case "owner":
						f.Owner = c.New
					case "group":
						f.Group = c.New
					case "mode":
						if m, err := strconv.ParseUint(c.New, 8, 32); err == nil {
							f.Mode = fs.FileMode(m & 0o7777)
						}
					}
				}
			}
		}
	}
	if files == nil {
		return st
	}
	next := *st
	next.Files = files
	return &next
}
