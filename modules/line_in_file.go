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
		Kind:    "line_in_file",
		Summary: "One line of a file: replaced where a regexp or string finds it, added if missing, or removed (Ansible's lineinfile)",
		New:     func() Module { return &LineInFile{} },
		Config:  func() any { return &lineInFileConfig{} },
		Doc: `Makes sure one line is in a file, replacing the line a regexp (or a literal search_string) finds, or makes sure no line matches (state = "absent"). The semantics are Ansible's lineinfile: with regexp, the LAST matching line is replaced (the first with firstmatch), and only that line: a commented-out line is left alone unless the regexp matches it (anchor it: "^PASS_MAX_DAYS" does not match "#PASS_MAX_DAYS"). The regexp should match the line both before and after the change, or every run adds the line again. When nothing matches, the line is left alone if it is already in the file, exactly, anywhere; otherwise it is added at the end, or after the last line matching insert_after, or before the last line matching insert_before (the first with firstmatch; "BOF" and "EOF" are the beginning and end of the file; a pattern that matches nothing means the end). With backrefs = true, line may use the regexp's groups (\1, \g<1>, \g<name>: "\\1" in an HCL string) and nothing changes when the regexp matches no line. state = "absent" removes every line the regexp matches, that holds search_string, or (with neither) that is the line.

The file is read whole (up to 4 MiB) and written whole, atomically, keeping its mode and owner (mode, owner and group change them when given), with validate and backup like a file task; plan shows the unified diff of the file. A missing file is an error unless create = true, which creates it (not its directory). A path that is a symlink, a directory or another kind of file is refused. A line written gets the line ending of the line it replaces, or the file's (CRLF when its first line ends so); a last line without a newline gets one when the line is added after it or replaces it. A line is one line: it cannot hold a newline (use block_in_file). A line from a sensitive value is never shown: the whole diff is hidden, and a file created for it is 0600 unless mode says otherwise. Several tasks may edit one file: plan shows each task's change on top of the earlier ones, as apply, which reads the file again before each of them, makes them (a saved plan of them applies too).

` + regexpSyntaxDoc,
		Example: `line_in_file "login.defs PASS_MAX_DAYS" {
  path   = "/etc/login.defs"
  regexp = "^PASS_MAX_DAYS"
  line   = "PASS_MAX_DAYS 90"
}

line_in_file "sshd no root login" {
  path         = "/etc/ssh/sshd_config"
  regexp       = "^#?PermitRootLogin"
  line         = "PermitRootLogin no"
  insert_after = "^#?Port "
  validate     = "/usr/sbin/sshd -t -f %s"
  backup       = true
}

line_in_file "jvm heap" {
  path     = "/opt/app/app.conf"
  regexp   = "^(.*)Xms(\\d+)m(.*)$"
  line     = "\\1Xms512m\\3"
  backrefs = true
}
`,
	})
}

var _ Module = (*LineInFile)(nil)

// LineInFile makes sure one line is in a file, or not (Ansible's
// lineinfile): see its Info.Doc and lineEdit.
type LineInFile struct {
	file editedFile
	edit lineEdit
}

type lineInFileConfig struct {
	Path         *string `hcl:"path,optional" required:"true" sensitive:"path" doc:"The file to edit: an absolute path."`
	Regexp       *string `hcl:"regexp,optional" doc:"A regular expression looked for in every line. With state = \"present\", the last line it matches is replaced by line; with \"absent\", every line it matches is removed."`
	SearchString *string `hcl:"search_string,optional" doc:"A literal string looked for in every line (anywhere in it), instead of regexp: the same rules, without escaping."`
	Line         *string `hcl:"line,optional" sensitive:"ok" doc:"The line (without a line ending). Required with state = \"present\"; with \"absent\" and neither regexp nor search_string, the lines equal to it are removed."`
	State        *string `hcl:"state,optional" enum:"present,absent" default:"present" doc:"\"absent\" removes the matching lines."`
	InsertAfter  *string `hcl:"insert_after,optional" doc:"Where a line nothing matches is added: after the last line this regular expression matches (the first with firstmatch), or \"EOF\" (the default) or \"BOF\". Only used when regexp or search_string matches nothing."`
	InsertBefore *string `hcl:"insert_before,optional" doc:"Where a line nothing matches is added: before the last line this regular expression matches (the first with firstmatch), or \"BOF\". A pattern that matches nothing means the end of the file."`
	Create       *bool   `hcl:"create,optional" default:"false" doc:"Create the file when it does not exist (its directory must exist). Without it a missing file is an error in plan."`
	Backrefs     *bool   `hcl:"backrefs,optional" default:"false" doc:"line holds backreferences to regexp's groups (\\1, \\g<1>, \\g<name>), filled in from the last matching line; when regexp matches no line the file is left as it is."`
	Firstmatch   *bool   `hcl:"firstmatch,optional" default:"false" doc:"Use the first line that regexp, search_string, insert_after or insert_before matches, not the last."`
	Mode         *string `hcl:"mode,optional" doc:"Permission bits as an octal string, such as \"0644\"; left as they are when not set (a new file gets 0644)."`
	Owner        *string `hcl:"owner,optional" doc:"The owning user; left as it is when not set."`
	Group        *string `hcl:"group,optional" doc:"The owning group; left as it is when not set."`
	Sensitive    *bool   `hcl:"sensitive,optional" doc:"Hide the diff: for a file that holds secrets other than line (a line from a sensitive value is hidden without it)."`
	Validate     *string `hcl:"validate,optional" doc:"A command that checks the new file before it replaces the old one, \"%s\" standing for the new file's path (\"/usr/sbin/sshd -t -f %s\", \"/usr/sbin/visudo -cf %s\"); a non-zero exit leaves the old file and fails the task."`
	Backup       *bool   `hcl:"backup,optional" default:"false" doc:"Keep the file being replaced beside it, as PATH.YYYY-MM-DD@HH:MM:SS~ (a hard link: the old file as it was)."`
}

// Decode reads and validates the task. An attribute whose value is not
// known is checked no further, and the checks that need it are skipped.
func (m *LineInFile) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg lineInFileConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok || diags.HasErrors() {
		return diags
	}
	diags = append(diags, m.file.decode(body, dec, cfg.Path, cfg.Mode, cfg.Owner, cfg.Group, cfg.Validate, cfg.Backup, cfg.Create, cfg.Sensitive, dec.marked["line"])...)
	e := &m.edit
	e.Backrefs = cfg.Backrefs != nil && *cfg.Backrefs
	e.Firstmatch = cfg.Firstmatch != nil && *cfg.Firstmatch
	if cfg.Line != nil {
		e.Line = *cfg.Line
		if strings.Contains(e.Line, "\n") {
			diags = append(diags, errAt(body, "line", "Line with a newline",
				"line is one line and cannot hold a newline: it would never be found again, and every run would add it. Use block_in_file for several lines."))
		}
	}

	given := func(attr string, set bool) bool { return dec.given(attr, set) }
	for _, pair := range [][2]string{{"regexp", "search_string"}, {"insert_after", "insert_before"}} {
		a, b := pair[0], pair[1]
		if given(a, attrSet(cfg, a)) && given(b, attrSet(cfg, b)) {
			diags = append(diags, errAt(body, b, "Conflicting attributes", fmt.Sprintf("Give %s or %s, not both.", a, b)))
		}
	}
	if cfg.Regexp != nil {
		if *cfg.Regexp == "" {
			diags = append(diags, warnAt(body, "regexp", "Empty regexp",
				"An empty regexp matches every line: the last line of the file is replaced rather than a line added. Use \"^\" if that is what you want."))
		}
		re, err := compilePattern("regexp", *cfg.Regexp, false)
		if err != nil {
			diags = append(diags, errAt(body, "regexp", "Invalid regexp", err.Error()+"."))
		}
		e.Regexp = re
	}
	if cfg.SearchString != nil {
		e.Search, e.HasSearch = *cfg.SearchString, true
		if e.Search == "" {
			diags = append(diags, warnAt(body, "search_string", "Empty search_string",
				"An empty search_string is in every line: the last line of the file is replaced rather than a line added."))
		}
		if strings.Contains(e.Search, "\n") {
			diags = append(diags, errAt(body, "search_string", "Invalid search_string", "search_string holds a newline, but each line is searched without its line ending."))
		}
	}
	if cfg.InsertAfter != nil {
		e.InsertAfter = *cfg.InsertAfter
		if e.InsertAfter != "EOF" && e.InsertAfter != "BOF" {
			re, err := compilePattern("insert_after", e.InsertAfter, false)
			if err != nil {
				diags = append(diags, errAt(body, "insert_after", "Invalid insert_after", err.Error()+"."))
			}
			e.InsertRe = re
		}
	}
	if cfg.InsertBefore != nil {
		e.InsertBefore = *cfg.InsertBefore
		switch e.InsertBefore {
		case "BOF":
		case "EOF":
			diags = append(diags, errAt(body, "insert_before", "Invalid insert_before", `insert_before = "EOF" is not a position: write insert_after = "EOF" (the default).`))
		default:
			re, err := compilePattern("insert_before", e.InsertBefore, false)
			if err != nil {
				diags = append(diags, errAt(body, "insert_before", "Invalid insert_before", err.Error()+"."))
			}
			e.InsertRe = re
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
		}{
			{"insert_after", cfg.InsertAfter != nil}, {"insert_before", cfg.InsertBefore != nil},
			{"backrefs", e.Backrefs}, {"firstmatch", e.Firstmatch}, {"create", m.file.create},
		} {
			if a.set {
				diags = append(diags, errAt(body, a.name, "Attribute for state = \"absent\"", fmt.Sprintf("%s has no meaning with state = \"absent\".", a.name)))
			}
		}
		if !given("line", cfg.Line != nil) && !given("regexp", cfg.Regexp != nil) && !given("search_string", cfg.SearchString != nil) {
			diags = append(diags, errAt(body, "", "Nothing to remove", "state = \"absent\" needs line, regexp or search_string: the lines to remove."))
		}
		return diags
	}
	if !given("line", cfg.Line != nil) {
		diags = append(diags, errAt(body, "", "Missing line", "A line_in_file task with state = \"present\" needs line: the line the file must hold."))
	}
	if e.Backrefs {
		if given("search_string", cfg.SearchString != nil) {
			diags = append(diags, errAt(body, "backrefs", "Conflicting attributes", "backrefs fills in regexp's groups: it cannot go with search_string."))
		} else if !given("regexp", cfg.Regexp != nil) {
			diags = append(diags, errAt(body, "backrefs", "backrefs without regexp", "backrefs = true needs regexp, whose groups line refers to."))
		}
		for _, a := range []string{"insert_after", "insert_before"} {
			if _, written := dec.types[a]; written {
				diags = append(diags, errAt(body, a, "Attribute ignored with backrefs", fmt.Sprintf("With backrefs = true a line is only ever replaced, never added: %s has no meaning.", a)))
			}
		}
		if e.Regexp != nil && cfg.Line != nil {
			t, err := parseBackrefs(e.Line, e.Regexp)
			if err != nil {
				detail := "line: " + err.Error() + "."
				if dec.marked["line"] {
					detail = "line (a sensitive value, not shown) has a backreference that is not valid for the regexp."
				}
				diags = append(diags, errAt(body, "line", "Invalid backreference", detail))
			}
			e.Template = t
		}
	}
	return diags
}

// attrSet reports whether the named optional attribute of cfg is set.
func attrSet(cfg lineInFileConfig, attr string) bool {
	switch attr {
	case "regexp":
		return cfg.Regexp != nil
	case "search_string":
		return cfg.SearchString != nil
	case "insert_after":
		return cfg.InsertAfter != nil
	case "insert_before":
		return cfg.InsertBefore != nil
	}
	return false
}

// Probes reads the file.
func (m *LineInFile) Probes() []executor.Probe { return m.file.probes() }

// Check computes the file with the line in place (or removed) and returns
// what differs.
func (m *LineInFile) Check(ctx context.Context, t *Target) (*Diff, error) {
	return m.file.check(t, m.edit.apply)
}

// Apply writes the new content (and mode, owner, group) Check computed.
func (m *LineInFile) Apply(ctx context.Context, t *Target, d *Diff) error {
	return m.file.apply(ctx, t, d)
}

var _ SecretFiler = (*LineInFile)(nil)

// SecretFiles implements SecretFiler.
func (m *LineInFile) SecretFiles() []string { return m.file.spec.secretFiles() }
