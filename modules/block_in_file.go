package modules

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "block_in_file",
		Summary: "A block of lines between two marker lines in a file: inserted, updated or removed (Ansible's blockinfile)",
		New:     func() Module { return &BlockInFile{} },
		Config:  func() any { return &blockInFileConfig{} },
		Doc: `Makes sure a block of lines is in a file between two marker lines, or is not (state = "absent", or an empty block, as in Ansible's blockinfile). The markers are the marker attribute with {mark} replaced by marker_begin and marker_end ("# BEGIN TEND MANAGED BLOCK" … "# END TEND MANAGED BLOCK"); they are looked for anywhere in the file (the last line equal to each), and what lies between them is replaced by the block. When they are not in the file, the block and its markers are added at the end, or after the last line matching insert_after, or before the last line matching insert_before ("BOF": the beginning of the file; a pattern that matches nothing means the end). A pattern that starts with (?m) is matched against the whole file, once, instead of line by line. Removing takes the markers out with the block.

Several block_in_file tasks on one file need distinct markers (marker = "# {mark} TEND sshd hardening"): with the same markers, each task would replace the other's block. The marker must hold {mark}, and no line of the block may equal a marker.

The file is read whole (up to 4 MiB) and written whole, atomically, keeping its mode and owner (mode, owner and group change them when given), with validate and backup like a file task; plan shows the unified diff of the file. A missing file is an error unless create = true, which creates it (not its directory). A path that is a symlink, a directory or another kind of file is refused. The markers, and the lines of a block written with LF endings, get the file's line ending (CRLF when its first line ends so); a block written with CRLF endings keeps them. A block from a sensitive value is never shown: the whole diff is hidden, and a file created for it is 0600 unless mode says otherwise. Several tasks may edit one file: plan shows each task's change on top of the earlier ones, as apply, which reads the file again before each of them, makes them (a saved plan of them applies too).

` + regexpSyntaxDoc,
		Example: `block_in_file "sshd hardening" {
  path     = "/etc/ssh/sshd_config"
  marker   = "# {mark} TEND sshd hardening"
  block    = <<-EOT
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    X11Forwarding no
  EOT
  insert_before = "^Match "
  validate = "/usr/sbin/sshd -t -f %s"
}
`,
	})
}

var _ Module = (*BlockInFile)(nil)

// BlockInFile makes sure a block of lines between markers is in a file, or
// not (Ansible's blockinfile): see its Info.Doc and blockEdit.
type BlockInFile struct {
	file editedFile
	edit blockEdit
}

type blockInFileConfig struct {
	Path           *string `hcl:"path,optional" required:"true" sensitive:"path" doc:"The file to edit: an absolute path."`
	Block          *string `hcl:"block,optional" sensitive:"ok" doc:"The lines to put between the markers (a final newline is optional). Required with state = \"present\"; an empty block removes the block and its markers, as state = \"absent\" does."`
	Marker         *string `hcl:"marker,optional" default:"# {mark} TEND MANAGED BLOCK" doc:"The marker lines' template: {mark} is replaced by marker_begin, then by marker_end. It must hold {mark}; give each block of a file its own marker."`
	MarkerBegin    *string `hcl:"marker_begin,optional" default:"BEGIN" doc:"What {mark} stands for in the first marker line."`
	MarkerEnd      *string `hcl:"marker_end,optional" default:"END" doc:"What {mark} stands for in the last marker line."`
	InsertAfter    *string `hcl:"insert_after,optional" doc:"Where a block whose markers are not in the file goes: after the last line this regular expression matches, or \"EOF\" (the default)."`
	InsertBefore   *string `hcl:"insert_before,optional" doc:"Where a block whose markers are not in the file goes: before the last line this regular expression matches, or \"BOF\"."`
	PrependNewline *bool   `hcl:"prepend_newline,optional" default:"false" doc:"Put a blank line before the block, unless it starts the file or follows one."`
	AppendNewline  *bool   `hcl:"append_newline,optional" default:"false" doc:"Put a blank line after the block, unless it ends the file or one follows."`
	State          *string `hcl:"state,optional" enum:"present,absent" default:"present" doc:"\"absent\" removes the block and its markers."`
	Create         *bool   `hcl:"create,optional" default:"false" doc:"Create the file when it does not exist (its directory must exist). Without it a missing file is an error in plan."`
	Mode           *string `hcl:"mode,optional" doc:"Permission bits as an octal string, such as \"0644\"; left as they are when not set (a new file gets 0644)."`
	Owner          *string `hcl:"owner,optional" doc:"The owning user; left as it is when not set."`
	Group          *string `hcl:"group,optional" doc:"The owning group; left as it is when not set."`
	Sensitive      *bool   `hcl:"sensitive,optional" doc:"Hide the diff: for a file that holds secrets other than the block (a block from a sensitive value is hidden without it)."`
	Validate       *string `hcl:"validate,optional" doc:"A command that checks the new file before it replaces the old one, \"%s\" standing for the new file's path (\"/usr/sbin/sshd -t -f %s\"); a non-zero exit leaves the old file and fails the task."`
	Backup         *bool   `hcl:"backup,optional" default:"false" doc:"Keep the file being replaced beside it, as PATH.YYYY-MM-DD@HH:MM:SS~ (a hard link: the old file as it was)."`
}

// Decode reads and validates the task. An attribute whose value is not
// known is checked no further, and the checks that need it are skipped.
func (m *BlockInFile) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg blockInFileConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok || diags.HasErrors() {
		return diags
	}
	diags = append(diags, m.file.decode(body, dec, cfg.Path, cfg.Mode, cfg.Owner, cfg.Group, cfg.Validate, cfg.Backup, cfg.Create, cfg.Sensitive, dec.marked["block"])...)
	e := &m.edit
	e.PrependNewline = cfg.PrependNewline != nil && *cfg.PrependNewline
	e.AppendNewline = cfg.AppendNewline != nil && *cfg.AppendNewline
	if cfg.Block != nil {
		e.Block = *cfg.Block
	}

	// The markers.
	if cfg.Marker != nil {
		marker := *cfg.Marker
		switch {
		case !strings.Contains(marker, "{mark}"):
			diags = append(diags, errAt(body, "marker", "Invalid marker",
				fmt.Sprintf("marker %q has no {mark}: the first and last marker lines would be the same, and the block would be added again on every run.", marker)))
		case strings.ContainsAny(marker, "\r\n"):
			diags = append(diags, errAt(body, "marker", "Invalid marker", "A marker is one line: it cannot hold a line ending."))
		}
		if cfg.MarkerBegin != nil && cfg.MarkerEnd != nil {
			e.Begin = strings.ReplaceAll(marker, "{mark}", *cfg.MarkerBegin)
			e.End = strings.ReplaceAll(marker, "{mark}", *cfg.MarkerEnd)
		}
	}
	for _, a := range []struct {
		name string
		val  *string
	}{{"marker_begin", cfg.MarkerBegin}, {"marker_end", cfg.MarkerEnd}} {
		if a.val != nil && strings.ContainsAny(*a.val, "\r\n") {
			diags = append(diags, errAt(body, a.name, "Invalid "+a.name, "A marker is one line: it cannot hold a line ending."))
		}
	}
	if e.Begin != "" && e.Begin == e.End {
		diags = append(diags, errAt(body, "marker_end", "Identical markers",
			fmt.Sprintf("The first and last marker lines are both %q: marker_begin and marker_end must differ.", e.Begin)))
	}
	if e.Begin != "" && cfg.Block != nil {
		for _, l := range strings.Split(e.Block, "\n") {
			if l = strings.TrimSuffix(l, "\r"); l == e.Begin || l == e.End {
				detail := fmt.Sprintf("The block holds the line %q, which is a marker: the block would not be found again as it was written.", l)
				if dec.marked["block"] {
					detail = "The block (a sensitive value, not shown) holds a line equal to a marker: the block would not be found again as it was written."
				}
				diags = append(diags, errAt(body, "block", "Marker in the block", detail))
				break
			}
		}
	}

	// Where a new block goes.
	if dec.given("insert_after", cfg.InsertAfter != nil) && dec.given("insert_before", cfg.InsertBefore != nil) {
		diags = append(diags, errAt(body, "insert_before", "Conflicting attributes", "Give insert_after or insert_before, not both."))
	}
	if cfg.InsertAfter != nil {
		e.InsertAfter = *cfg.InsertAfter
		switch e.InsertAfter {
		case "EOF":
		case "BOF":
			diags = append(diags, errAt(body, "insert_after", "Invalid insert_after", `insert_after = "BOF" is not a position for a block (Ansible's blockinfile reads it as a pattern): write insert_before = "BOF".`))
		default:
			re, err := compilePattern("insert_after", e.InsertAfter, isMultiline(e.InsertAfter))
			if err != nil {
				diags = append(diags, errAt(body, "insert_after", "Invalid insert_after", err.Error()+"."))
			}
			e.InsertRe, e.Multiline = re, isMultiline(e.InsertAfter)
		}
	}
	if cfg.InsertBefore != nil {
		e.InsertBefore = *cfg.InsertBefore
		switch e.InsertBefore {
		case "BOF":
		case "EOF":
			diags = append(diags, errAt(body, "insert_before", "Invalid insert_before", `insert_before = "EOF" is not a position: write insert_after = "EOF" (the default).`))
		default:
			re, err := compilePattern("insert_before", e.InsertBefore, isMultiline(e.InsertBefore))
			if err != nil {
				diags = append(diags, errAt(body, "insert_before", "Invalid insert_before", err.Error()+"."))
			}
			e.InsertRe, e.Multiline = re, isMultiline(e.InsertBefore)
		}
	}
	if cfg.InsertAfter == nil && cfg.InsertBefore == nil {
		e.InsertAfter = "EOF"
	}

	if dec.unknown["state"] {
		return diags
	}
	e.Absent = cfg.State != nil && *cfg.State == "absent"
	if e.Absent {
		m.file.absent = true
		for _, a := range []struct {
			name string
			set  bool
		}{{"block", cfg.Block != nil}, {"insert_after", cfg.InsertAfter != nil}, {"insert_before", cfg.InsertBefore != nil}, {"create", m.file.create}} {
			if a.set {
				diags = append(diags, errAt(body, a.name, "Attribute for state = \"absent\"", fmt.Sprintf("%s has no meaning with state = \"absent\".", a.name)))
			}
		}
		return diags
	}
	if !dec.given("block", cfg.Block != nil) {
		diags = append(diags, errAt(body, "", "Missing block",
			"A block_in_file task with state = \"present\" needs block: the lines to put between the markers (block = \"\" or state = \"absent\" removes them)."))
	}
	if cfg.Block != nil && e.Block == "" {
		// Like Ansible: an empty block is no block.
		m.file.absent = true
	}
	return diags
}

// Probes reads the file.
func (m *BlockInFile) Probes() []executor.Probe { return m.file.probes() }

// Check computes the file with the block in place (or removed) and returns
// what differs.
func (m *BlockInFile) Check(ctx context.Context, t *Target) (*Diff, error) {
	return m.file.check(t, m.edit.apply)
}

// Apply writes the new content (and mode, owner, group) Check computed.
func (m *BlockInFile) Apply(ctx context.Context, t *Target, d *Diff) error {
	return m.file.apply(ctx, t, d)
}

var _ SecretFiler = (*BlockInFile)(nil)

// SecretFiles implements SecretFiler.
func (m *BlockInFile) SecretFiles() []string { return m.file.spec.secretFiles() }
