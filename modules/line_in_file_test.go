package modules

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/executor"
)

// editDecodeCase is one task body and the diagnostic it must give ("" for
// none at all), with its position.
type editDecodeCase struct {
	name, src string
	want, pos string
	warning   bool
}

func runEditDecodeCases(t *testing.T, kind string, ctx *hcl.EvalContext, cases []editDecodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := decodeModule(t, kind, "t", tc.src, ctx)
			if tc.want == "" {
				if len(diags) > 0 {
					t.Fatalf("unexpected diagnostics: %v", diags)
				}
				return
			}
			for _, d := range diags {
				if strings.Contains(d.Summary+" "+d.Detail, tc.want) {
					if tc.warning != (d.Severity == hcl.DiagWarning) {
						t.Errorf("severity %v, want warning=%v", d.Severity, tc.warning)
					}
					if got := pos(d); got != tc.pos {
						t.Errorf("diagnostic %q at %s, want %s", d.Summary, got, tc.pos)
					}
					if strings.Contains(d.Summary+d.Detail, "hunter2") {
						t.Errorf("the sensitive value is in the diagnostic: %s", d.Detail)
					}
					return
				}
			}
			t.Fatalf("no diagnostic containing %q in %v", tc.want, diags)
		})
	}
}

func editCtx() *hcl.EvalContext {
	return &hcl.EvalContext{Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{"secret": cty.StringVal("hunter2").Mark("sensitive")}),
		"u":   cty.DynamicVal,
	}}
}

// TestLineInFileDecode: every mistake is a diagnostic at its attribute,
// before any connection; Python-only regexp syntax is named; unknown values
// raise nothing.
func TestLineInFileDecode(t *testing.T) {
	const p = "path = \"/etc/login.defs\"\n"
	runEditDecodeCases(t, "line_in_file", editCtx(), []editDecodeCase{
		{"ok", p + "regexp = \"^PASS_MAX_DAYS\"\nline = \"PASS_MAX_DAYS 90\"\n", "", "", false},
		{"missing path", "line = \"x\"\n", `"path" is required`, "1:1", false},
		{"relative path", "path = \"etc/x\"\nline = \"x\"\n", "not an absolute path", "1:1", false},
		{"missing line", p + "regexp = \"^x\"\n", "needs line", "1:1", false},
		{"bad regexp", p + "line = \"x\"\nregexp = \"^(x\"\n", "missing closing )", "3:1", false},
		{"lookahead", p + "line = \"x\"\nregexp = \"^(?=x)\"\n", "a lookahead", "3:1", false},
		{"lookbehind", p + "line = \"x\"\nregexp = \"(?<!#)x\"\n", "a lookbehind", "3:1", false},
		{"backreference in the pattern (lineinfile's own test)", p + "line = \"x\"\nregexp = \"^(REF) .* \\\\1$\"\n", "a backreference \\1 (", "3:1", false},
		{"named backreference", p + "line = \"x\"\nregexp = \"(?P<a>x)(?P=a)\"\n", "named backreference", "3:1", false},
		{"\\Z", p + "line = \"x\"\nregexp = \"x\\\\Z\"\n", `write \z`, "3:1", false},
		{"{,n}", p + "line = \"x\"\nregexp = \"a{,3}\"\n", "write {0,n}", "3:1", false},
		{"verbose", p + "line = \"x\"\nregexp = \"(?x) a b\"\n", "verbose mode", "3:1", false},
		{"possessive", p + "line = \"x\"\nregexp = \"a++\"\n", "possessive", "3:1", false},
		{"a newline in the pattern", p + "line = \"x\"\ninsert_after = \"^a\\\\nb\"\n", "each line is matched without its line ending", "3:1", false},
		{"escaped class characters are fine", p + "line = \"x\"\nregexp = \"^[\\\\]\\\\\\\\1]=\\\\(\\\\?=\"\n", "", "", false},
		{"insert_before EOF", p + "line = \"x\"\ninsert_before = \"EOF\"\n", `write insert_after = "EOF"`, "3:1", false},
		{"a line with a newline", p + "line = \"a\\nb\"\n", "cannot hold a newline", "2:1", false},
		{"regexp and search_string", p + "line = \"x\"\nregexp = \"x\"\nsearch_string = \"x\"\n", "not both", "4:1", false},
		{"insert_after and insert_before", p + "line = \"x\"\ninsert_after = \"x\"\ninsert_before = \"x\"\n", "not both", "4:1", false},
		{"backrefs without regexp", p + "line = \"x\"\nbackrefs = true\n", "needs regexp", "3:1", false},
		{"backrefs with search_string", p + "line = \"x\"\nsearch_string = \"x\"\nbackrefs = true\n", "cannot go with search_string", "4:1", false},
		{"backrefs with insert_after", p + "line = \"\\\\1\"\nregexp = \"(x)\"\nbackrefs = true\ninsert_after = \"y\"\n", "never added", "5:1", false},
		{"backref to a missing group", p + "line = \"\\\\2\"\nregexp = \"(x)\"\nbackrefs = true\n", "refers to group 2, but the regexp has 1", "2:1", false},
		{"backref to a missing name", p + "line = \"\\\\g<nope>\"\nregexp = \"(x)\"\nbackrefs = true\n", "names no group", "2:1", false},
		{"backref \\n", p + "line = \"\\\\1\\\\n\"\nregexp = \"(x)\"\nbackrefs = true\n", "line ending", "2:1", false},
		{"sensitive line with a bad backref is not shown", p + "line = \"${var.secret}\\\\9\"\nregexp = \"(x)\"\nbackrefs = true\n", "not valid for the regexp", "2:1", false},
		{"sensitive regexp refused", p + "line = \"x\"\nregexp = var.secret\n", "Sensitive value in regexp", "3:1", false},
		{"sensitive line accepted", p + "line = var.secret\n", "", "", false},
		{"empty regexp warns", p + "line = \"x\"\nregexp = \"\"\n", "matches every line", "3:1", true},
		{"absent needs something", p + "state = \"absent\"\n", "needs line, regexp or search_string", "1:1", false},
		{"absent with create", p + "state = \"absent\"\nregexp = \"x\"\ncreate = true\n", "no meaning with state", "4:1", false},
		{"absent with insert_after", p + "state = \"absent\"\nregexp = \"x\"\ninsert_after = \"y\"\n", "no meaning with state", "4:1", false},
		{"bad state", p + "line = \"x\"\nstate = \"gone\"\n", `"present" or "absent"`, "3:1", false},
		{"validate without %s", p + "line = \"x\"\nvalidate = \"sshd -t\"\n", "%s", "3:1", false},
		{"numeric mode", p + "line = \"x\"\nmode = 644\n", "HCL numbers are decimal", "3:1", false},
		{"all unknown", "path = u\nregexp = u\nline = u\nstate = u\ninsert_after = u\ncreate = u\nbackrefs = u\nfirstmatch = u\nmode = u\nowner = u\ngroup = u\nvalidate = u\nbackup = u\n", "", "", false},
		{"unknown regexp with backrefs", p + "regexp = u\nline = \"\\\\1\"\nbackrefs = true\n", "", "", false},
		{"unknown search_string and insert_before", p + "search_string = u\ninsert_before = u\nline = \"x\"\n", "", "", false},
		{"unknown regexp and search_string conflict", p + "search_string = u\nregexp = u\nline = \"x\"\n", "not both", "2:1", false},
		{"unknown state, bad regexp still found", p + "state = u\nregexp = \"(\"\n", "missing closing", "3:1", false},
	})
}

// TestBlockInFileDecode: the same for block_in_file.
func TestBlockInFileDecode(t *testing.T) {
	const p = "path = \"/etc/ssh/sshd_config\"\n"
	runEditDecodeCases(t, "block_in_file", editCtx(), []editDecodeCase{
		{"ok", p + "block = \"X11Forwarding no\\n\"\n", "", "", false},
		{"missing block", p + "insert_after = \"^#\"\n", "needs block", "1:1", false},
		{"empty block is fine (removes)", p + "block = \"\"\n", "", "", false},
		{"marker without {mark}", p + "block = \"x\"\nmarker = \"# tend\"\n", "has no {mark}", "3:1", false},
		{"marker with a newline", p + "block = \"x\"\nmarker = \"# {mark}\\nx\"\n", "one line", "3:1", false},
		{"identical markers", p + "block = \"x\"\nmarker_begin = \"X\"\nmarker_end = \"X\"\n", "must differ", "4:1", false},
		{"a marker in the block", p + "block = \"a\\n# END TEND MANAGED BLOCK\\n\"\n", "which is a marker", "2:1", false},
		{"a marker in a sensitive block", p + "block = \"${var.secret}\\n# END TEND MANAGED BLOCK\\n\"\n", "sensitive value, not shown", "2:1", false},
		{"insert_after BOF", p + "block = \"x\"\ninsert_after = \"BOF\"\n", `write insert_before = "BOF"`, "3:1", false},
		{"bad insert_before", p + "block = \"x\"\ninsert_before = \"(?<=a)b\"\n", "a lookbehind", "3:1", false},
		{"a newline without (?m)", p + "block = \"x\"\ninsert_after = \"a\\\\nb\"\n", "without its line ending", "3:1", false},
		{"a newline with (?m)", p + "block = \"x\"\ninsert_after = \"(?m)a\\\\nb\"\n", "", "", false},
		{"absent with block", p + "state = \"absent\"\nblock = \"x\"\n", "no meaning with state", "3:1", false},
		{"sensitive block accepted", p + "block = var.secret\n", "", "", false},
		{"sensitive marker refused", p + "block = \"x\"\nmarker = var.secret\n", "Sensitive value in marker", "3:1", false},
		{"all unknown", "path = u\nblock = u\nmarker = u\nmarker_begin = u\nmarker_end = u\ninsert_before = u\nprepend_newline = u\nappend_newline = u\nstate = u\ncreate = u\nmode = u\nowner = u\ngroup = u\nsensitive = u\nvalidate = u\nbackup = u\n", "", "", false},
	})
}

// writeTemp writes content to a new file in a temporary directory.
func writeTemp(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLineInFileLocal runs the module on this machine: the diff is the
// whole file's, apply writes it keeping the file's mode, and a second
// check is empty.
func TestLineInFileLocal(t *testing.T) {
	const defs = "#PASS_MAX_DAYS 99999\nPASS_MAX_DAYS\t99999\nPASS_MIN_DAYS\t0\n"
	p := writeTemp(t, "login.defs", defs, 0o640)
	src := "path = \"" + p + "\"\nregexp = \"^PASS_MAX_DAYS\"\nline = \"PASS_MAX_DAYS 90\"\nbackup = true\n"
	d := converge(t, mustDecode(t, "line_in_file", "t", src))
	c := d.Change("content")
	if len(d.Changes) != 1 || c == nil || string(c.OldContent) != defs || c.Path != p {
		t.Fatalf("diff %+v", d)
	}
	want := "#PASS_MAX_DAYS 99999\nPASS_MAX_DAYS 90\nPASS_MIN_DAYS\t0\n"
	if got, _ := os.ReadFile(p); string(got) != want || string(c.NewContent) != want {
		t.Errorf("file holds %q, diff said %q", got, c.NewContent)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %o, want the file's 0640", fi.Mode().Perm())
	}
	baks, _ := filepath.Glob(p + ".*~")
	if len(baks) != 1 {
		t.Fatalf("backups: %v", baks)
	}
	if old, _ := os.ReadFile(baks[0]); string(old) != defs {
		t.Errorf("backup holds %q", old)
	}
}

// TestEditedFileStates: a missing file (create or not), a directory, a
// symlink, a file too large to read whole, absent on a missing file.
func TestEditedFileStates(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.conf")
	if _, err := checkOnly(t, mustDecode(t, "line_in_file", "t", "path = \""+missing+"\"\nline = \"x\"\n")); err == nil || !strings.Contains(err.Error(), "does not exist (set create = true") {
		t.Errorf("missing file without create: %v", err)
	}
	if d, err := checkOnly(t, mustDecode(t, "line_in_file", "t", "path = \""+missing+"\"\nline = \"x\"\nstate = \"absent\"\n")); err != nil || !d.Empty() {
		t.Errorf("absent on a missing file: %v %+v", err, d)
	}
	if d, err := checkOnly(t, mustDecode(t, "line_in_file", "t", "path = \""+missing+"\"\nregexp = \"(a)\"\nline = \"\\\\1\"\nbackrefs = true\ncreate = true\n")); err != nil || !d.Empty() {
		t.Errorf("backrefs that match nothing created the file: %v %+v", err, d)
	}
	if d, err := checkOnly(t, mustDecode(t, "block_in_file", "t", "path = \""+missing+"\"\nblock = \"\"\n")); err != nil || !d.Empty() {
		t.Errorf("an empty block on a missing file: %v %+v", err, d)
	}
	// create = true: the file is made with the line and the given mode.
	d := converge(t, mustDecode(t, "block_in_file", "t", "path = \""+missing+"\"\nblock = \"a\"\ncreate = true\nmode = \"0600\"\n"))
	if got := changeList(d); got != "exists:absent->present content:-> mode:->0600" {
		t.Errorf("create: %s", got)
	}
	if b, _ := os.ReadFile(missing); string(b) != "# BEGIN TEND MANAGED BLOCK\na\n# END TEND MANAGED BLOCK\n" {
		t.Errorf("created %q", b)
	}
	if fi, _ := os.Stat(missing); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o", fi.Mode().Perm())
	}

	link := filepath.Join(dir, "link.conf")
	if err := os.Symlink(missing, link); err != nil {
		t.Fatal(err)
	}
	if _, err := checkOnly(t, mustDecode(t, "line_in_file", "t", "path = \""+link+"\"\nline = \"x\"\n")); err == nil || !strings.Contains(err.Error(), "is a symlink, not a regular file") {
		t.Errorf("symlink: %v", err)
	}
	if _, err := checkOnly(t, mustDecode(t, "block_in_file", "t", "path = \""+dir+"\"\nblock = \"x\"\n")); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	big := filepath.Join(dir, "big.conf")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x\n"), executor.MaxProbeContent/2+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := checkOnly(t, mustDecode(t, "line_in_file", "t", "path = \""+big+"\"\nline = \"x\"\n")); err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Errorf("a file too large: %v", err)
	}
}

// TestEditedFileSensitive: a line or block from a sensitive value leaves
// no readable content in the diff, and a file created for it is 0600.
func TestEditedFileSensitive(t *testing.T) {
	dir := t.TempDir()
	for _, kind := range []string{"line_in_file", "block_in_file"} {
		p := filepath.Join(dir, kind+".conf")
		if err := os.WriteFile(p, []byte("user=app\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		attr := "line = \"password=${var.secret}\"\n"
		if kind == "block_in_file" {
			attr = "block = \"password=${var.secret}\"\n"
		}
		m, diags := decodeModule(t, kind, "t", "path = \""+p+"\"\n"+attr, editCtx())
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		d := converge(t, m)
		c := d.Change("content")
		if c == nil || !c.Sensitive || c.OldContent != nil || strings.Contains(c.Old+c.New, "hunter2") {
			t.Errorf("%s: the diff shows the content: %+v", kind, c)
		}
		if b, _ := os.ReadFile(p); !strings.Contains(string(b), "password=hunter2\n") {
			t.Errorf("%s: file holds %q", kind, b)
		}

		created := filepath.Join(dir, kind+".new")
		m, _ = decodeModule(t, kind, "t", "path = \""+created+"\"\ncreate = true\n"+attr, editCtx())
		d = converge(t, m)
		if got := changeList(d); !strings.Contains(got, "mode:->0600") {
			t.Errorf("%s: created sensitive file: %s", kind, got)
		}
		if fi, _ := os.Stat(created); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: created with mode %o", kind, fi.Mode().Perm())
		}
	}
}

// TestTwoEditsOneFile: two tasks on one file, the way the engine runs them
// in apply (each checked against the state read after the one before):
// both lines end up in the file, and neither differs afterwards.
func TestTwoEditsOneFile(t *testing.T) {
	p := writeTemp(t, "sshd_config", "Port 22\n#PermitRootLogin yes\n", 0o644)
	first := mustDecode(t, "line_in_file", "a", "path = \""+p+"\"\nregexp = \"^#?PermitRootLogin\"\nline = \"PermitRootLogin no\"\n")
	second := mustDecode(t, "block_in_file", "b", "path = \""+p+"\"\nblock = \"X11Forwarding no\"\ninsert_before = \"^Port\"\n")
	converge(t, first)
	converge(t, second)
	want := "# BEGIN TEND MANAGED BLOCK\nX11Forwarding no\n# END TEND MANAGED BLOCK\nPort 22\nPermitRootLogin no\n"
	if b, _ := os.ReadFile(p); string(b) != want {
		t.Fatalf("file holds %q, want %q", b, want)
	}
	for _, m := range []Module{first, second} {
		if d, err := checkOnly(t, m); err != nil || !d.Empty() {
			t.Errorf("differs afterwards: %v %+v", err, d)
		}
	}
}
