package modules

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"
)

// lineEditOf decodes a line_in_file task's attributes (HCL, path added)
// and returns its edit.
func lineEditOf(t *testing.T, attrs string) *lineEdit {
	t.Helper()
	m := mustDecode(t, "line_in_file", "t", "path = \"/etc/t\"\n"+attrs)
	return &m.(*LineInFile).edit
}

func sha1hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// The fixtures of Ansible's integration tests,
// test/integration/targets/lineinfile/files (ansible-core, commit c9ac477e).
const (
	ansibleTestTxt       = "This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n"
	ansibleTestNoEOF     = "This is line 1\nThis is line 2"
	ansibleTestMultiple  = "This is line 1\n\nThis is line 2\n\nThis is line 3\n\nThis is line 4\n"
	ansibleTestConf      = "[section_one]\n\n[section_two]\n\n[section_three]\n"
	ansibleFirstmatch    = "line1\nline1\nline1\nline2\nline3\n"
	ansibleTest58923     = "#!/bin/sh\n\ncase \"`uname`\" in\n  Darwin*) if [ -z \"$JAVA_HOME\" ] ; then\n"
	ansibleTestString    = "This is line 1\nThis is line 2\n(\\\\w)(\\\\s+)([\\\\.,])\nThis is line 4\n<FilesMatch \".py[45]?$\">\n"
	ansibleFisheyeOpts   = `line = "export FISHEYE_OPTS=\"-Xmx4096m -Xms2048m\""` + "\n"
	ansibleFisheyeRegexp = `regexp = "^export FISHEYE_OPTS"` + "\n"
)

// ansibleStep is one lineinfile task of Ansible's integration tests, with
// the SHA-1 its assert expects of the file afterwards ("" when the test
// asserts none) and whether it reports a change.
type ansibleStep struct {
	name    string
	attrs   string
	changed bool
	sha1    string
}

// replay runs steps on content like Ansible's test does, each step once
// and then again when it changed (the tests' idempotence checks).
func replay(t *testing.T, content string, steps []ansibleStep) string {
	t.Helper()
	for _, s := range steps {
		out, changed := lineEditOf(t, s.attrs).apply([]byte(content))
		if changed != s.changed {
			t.Fatalf("%s: changed = %v, want %v\n%s", s.name, changed, s.changed, out)
		}
		content = string(out)
		if s.sha1 != "" && sha1hex(content) != s.sha1 {
			t.Fatalf("%s: the file differs from Ansible's (sha1 %s, want %s):\n%s", s.name, sha1hex(content), s.sha1, content)
		}
		if again, changed := lineEditOf(t, s.attrs).apply(out); changed || string(again) != content {
			t.Fatalf("%s: a second run changes the file again:\n%s", s.name, again)
		}
	}
	return content
}

// TestLineEditAnsibleIntegration replays lineinfile's integration tests
// (test/integration/targets/lineinfile/tasks/main.yml) and compares each
// file with the SHA-1 Ansible's asserts expect.
func TestLineEditAnsibleIntegration(t *testing.T) {
	if sha1hex(ansibleTestTxt) != "5feac65e442c91f557fc90069ce6efc4d346ab51" || sha1hex(ansibleTestMultiple) != "3e0090a34fb641f3c01e9011546ff586260ea0ea" ||
		sha1hex(ansibleTestConf) != "6037f13e419b132eb3fd20a89e60c6c87a6add38" || sha1hex(ansibleFirstmatch) != "1d644e5e2e51c67f1bd12d7bbe2686017f39923d" ||
		sha1hex(ansibleTest58923) != "b6379ba43261c451a62102acb2c7f438a177c66e" || sha1hex(ansibleTestString) != "481c2b73fe062390afdd294063a4f8285d69ac85" {
		t.Fatal("a fixture is not Ansible's")
	}

	t.Run("test.txt", func(t *testing.T) {
		c := replay(t, ansibleTestTxt, []ansibleStep{
			{"insert a line at the beginning of the file", `line = "New line at the beginning"` + "\ninsert_before = \"BOF\"", true, "7eade4042b23b800958fe807b5bfc29f8541ec09"},
			{"insert a line at the end of the file", `line = "New line at the end"` + "\ninsert_after = \"EOF\"", true, "fb57af7dc10a1006061b000f1f04c38e4bef50a9"},
			{"insert a line after the first line", `line = "New line after line 1"` + "\ninsert_after = \"^This is line 1$\"", true, "5348da605b1bc93dbadf3a16474cdf22ef975bec"},
			{"insert a line before the last line", `line = "New line before line 5"` + "\ninsert_before = \"^This is line 5$\"", true, "2e9e460ff68929e4453eb765761fd99814f6e286"},
			// Ansible's regexp is "^(REF) .* \\1$": a backreference RE2
			// has not (refused at decode, see TestLineInFileDecode); the
			// same line matched without it.
			{"replace a line with backrefs", `line = "This is line 3"` + "\nbackrefs = true\nregexp = \"^(REF) .* REF$\"", true, "72f60239a735ae06e769d823f5c2b4232c634d9c"},
			{"remove the middle line", `state = "absent"` + "\nregexp = \"^This is line 3$\"", true, "d4eeb07bdebab2d1cdb3ec4a3635afa2618ad4ea"},
			{"remove line 5 (validated)", `state = "absent"` + "\nregexp = \"^This is line 5$\"", true, "ab56c210ea82839a54487464800fed4878cb2608"},
		})
		// "insert a multiple lines at the end of the file": a line with a
		// newline, which tend refuses (TestLineInFileDecode); what
		// Ansible wrote, so that the next step starts from its file.
		c += "This is a line\nwith \\n character\n"
		if sha1hex(c) != "fde683229429a4f05d670e6c10afc875e1d5c489" {
			t.Fatalf("before the backrefs step: %q", c)
		}
		replay(t, c, []ansibleStep{
			{"replace a line with backrefs included in the line", `line = "New \\1 created with the backref"` + "\nbackrefs = true\nregexp = \"^This is (line 4)$\"", true, "981ad35c4b30b03bc3a1beedce0d1e72c491898e"},
		})
	})
	t.Run("create, no newline at EOF, empty file", func(t *testing.T) {
		replay(t, "", []ansibleStep{{"use create=yes", `line = "This is a new file"` + "\ninsert_before = \"BOF\"", true, "038f10f9e31202451b093163e81e06fbac0c6f3a"}})
		replay(t, ansibleTestNoEOF, []ansibleStep{{"testnoeof insert a line at the end", `line = "New line at the end"` + "\ninsert_after = \"EOF\"", true, "f9af7008e3cb67575ce653d094c79cabebf6e523"}})
		replay(t, "", []ansibleStep{{"testempty insert a line at the end", `line = "New line at the end"` + "\ninsert_after = \"EOF\"", true, "f440dc65ea9cec3fd496c1479ddf937e1b949412"}})
		replay(t, "", []ansibleStep{
			{"add a line to empty file with insertbefore", "line = \"top\"\ninsert_before = \"^not in the file$\"", true, ""},
			{"add a line to file with only one line using insertbefore", "line = \"top\"\ninsert_before = \"^not in the file$\"", false, "4dca56d05a21f0d018cd311f43e134e4501cf6d9"},
		})
	})
	t.Run("quoting (issue 8535)", func(t *testing.T) {
		replay(t, "", []ansibleStep{
			{"'foo'", `line = "'foo'"` + "\ninsert_before = \"BOF\"", true, ""},
			{"dotenv.load();", `line = "dotenv.load();"` + "\ninsert_before = \"BOF\"", true, ""},
			{"var dotenv", `line = "var dotenv = require('dotenv');"` + "\ninsert_before = \"BOF\"", true, "7dc3cb033c3971e73af0eaed6623d4e71e5743f1"},
			{"import g'", `line = "import g'"`, true, "73b271c2cc1cef5663713bc0f00444b4bf9f4543"},
			{"double quotes", `line = "\"quote\" and \"unquote\""`, true, "b10ab2a3c3b6492680c8d0b1d6f35aa6b8f9e731"},
		})
	})
	t.Run("the same line after or before different lines (issue 28721)", func(t *testing.T) {
		for _, where := range []string{"insert_after", "insert_before"} {
			sum := map[string]string{"insert_after": "c6733b6c53ddd0e11e6ba39daa556ef8f4840761", "insert_before": "5d298651fbc377b45257da10308a9dc2fe1f8be5"}[where]
			replay(t, ansibleTestMultiple, []ansibleStep{
				{where + " 1", "line = \"bar\"\n" + where + " = \"1\"", true, ""},
				{where + " 2", "line = \"bar\"\n" + where + " = \"2\"", false, ""},
				{where + " 3", "line = \"bar\"\n" + where + " = \"3\"", false, ""},
				{where + " 4", "line = \"bar\"\n" + where + " = \"4\"", false, sum},
			})
		}
	})
	t.Run("regexp with insert_after/insert_before (issue 36156)", func(t *testing.T) {
		for _, tc := range []struct{ where, anchor, sum string }{
			{"insert_after", "section_one", "06e2c456e5028dd7bcd0b117b5927a1139458c82"},
			{"insert_before", "section_three", "c3be9438a07c44d4c256cebfcdbca15a15b1db91"},
		} {
			var with, without []ansibleStep
			for _, o := range []struct{ re, line string }{{"option_one=", "option_one=1"}, {"option_two=", "option_two=2"}, {"option_three=", "option_three=3"}} {
				with = append(with, ansibleStep{tc.where + " " + o.line, "regexp = \"" + o.re + "\"\nline = \"" + o.line + "\"\n" + tc.where + " = \"" + tc.anchor + "\"", true, ""})
				without = append(without, ansibleStep{tc.where + " " + o.line + " without regexp", "line = \"" + o.line + "\"\n" + tc.where + " = \"" + tc.anchor + "\"", false, ""})
			}
			with[len(with)-1].sha1 = tc.sum
			without[len(without)-1].sha1 = tc.sum
			replay(t, replay(t, ansibleTestConf, with), without)
		}
	})
	t.Run("empty regexp and search string (issue 29443)", func(t *testing.T) {
		replay(t, ansibleTestTxt, []ansibleStep{{"empty regexp", "regexp = \"\"\nline = \"This is line 6\"", true, "23555a98ceaa88756b4c7c7bba49d9f86eed868f"}})
		replay(t, ansibleTestString, []ansibleStep{{"empty search string", "search_string = \"\"\nline = \"This is line 6\"", true, "eaa79f878557d4bd8d96787a850526a0facab342"}})
	})
	t.Run("firstmatch (issue 58923)", func(t *testing.T) {
		replay(t, ansibleFirstmatch, []ansibleStep{{"insert after the first line1", "line = \"INSERT\"\ninsert_after = \"line1\"\nfirstmatch = true", true, "114aae024073a3ee8ec8db0ada03c5483326dd86"}})
		after := "insert_after = \"^#!/bin/sh\"\nfirstmatch = true\n" + ansibleFisheyeOpts
		before := "insert_before = \"^#!/bin/sh\"\nfirstmatch = true\n" + ansibleFisheyeOpts
		for _, tc := range []struct {
			name, attrs, sum string
		}{
			{"firstmatch, regexp and insertafter", after + ansibleFisheyeRegexp, "9232aed6fe88714964d9e29d13e42cd782070b08"},
			{"firstmatch and insertafter without regexp", after, "9232aed6fe88714964d9e29d13e42cd782070b08"},
			{"regexp, firstmatch and insertbefore", before + ansibleFisheyeRegexp, "3c6630b9d44f561ea9ad999be56a7504cadc12f7"},
			{"insertbefore and firstmatch without regexp", before, "3c6630b9d44f561ea9ad999be56a7504cadc12f7"},
			{"search_string, firstmatch and insertafter", after + `search_string = "export FISHEYE_OPTS"` + "\n", "9232aed6fe88714964d9e29d13e42cd782070b08"},
		} {
			c := replay(t, ansibleTest58923, []ansibleStep{{tc.name, tc.attrs, true, tc.sum}})
			if tc.name == "insertbefore and firstmatch without regexp" {
				// The line is in the file, not close to insert_before's
				// line: no change.
				replay(t, c, []ansibleStep{{"line elsewhere", "insert_before = \"   Darwin\\\\*\\\\) if \\\\[ -z \\\"\\\\$JAVA_HOME\\\" \\\\] ; then\"\nfirstmatch = true\n" + ansibleFisheyeOpts, false, tc.sum}})
			}
		}
	})
	t.Run("search_string (test_string01.yml)", func(t *testing.T) {
		replay(t, ansibleTestString, []ansibleStep{
			{"insert at the beginning", "line = \"New line at the beginning\"\ninsert_before = \"BOF\"", true, ""},
			{"replace the line holding the string", "line = \"Thi$ i^ [ine 3\"\nsearch_string = \"(\\\\\\\\w)(\\\\\\\\s+)([\\\\\\\\.,])\"", true, "8084519b53e268920a46592a112297715951f167"},
			{"remove it", "state = \"absent\"\nsearch_string = \"Thi$ i^ [ine 3\"", true, "89919ef2ef91e48ad02e0ca2bcb76dfc2a86d516"},
			{"remove the FilesMatch line", "state = \"absent\"\nsearch_string = \"<FilesMatch \\\".py[45]?$\\\">\"", true, "ba9600b34febbc88bfb3ca99cd6b57f1010c19a4"},
		})
	})
}

// TestLineEdit covers the rules of lineinfile.py's present() and absent()
// and where tend differs from it (CRLF files, a last line without a
// newline before an insert_after match).
func TestLineEdit(t *testing.T) {
	const loginDefs = "# Password aging controls:\n#\n#PASS_MAX_DAYS\tMaximum number of days a password may be used.\n#PASS_MAX_DAYS 99999\nPASS_MAX_DAYS\t99999\nPASS_MIN_DAYS\t0\n"
	for _, tc := range []struct {
		name, attrs, in, want string
	}{
		// The report that started it: a sed behind grep rewrote the
		// comment and left two lines; lineinfile replaces the one live
		// line and leaves the comments alone.
		{"login.defs", "regexp = \"^PASS_MAX_DAYS\"\nline = \"PASS_MAX_DAYS 90\"", loginDefs,
			strings.Replace(loginDefs, "PASS_MAX_DAYS\t99999\n", "PASS_MAX_DAYS 90\n", 1)},
		{"login.defs, line missing: added at EOF", "regexp = \"^PASS_MAX_DAYS\"\nline = \"PASS_MAX_DAYS 90\"", "#PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\n",
			"#PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\nPASS_MAX_DAYS 90\n"},
		{"regexp: the last match is replaced", "regexp = \"^a=\"\nline = \"a=3\"", "a=1\nb\na=2\n", "a=1\nb\na=3\n"},
		{"regexp + firstmatch: the first", "regexp = \"^a=\"\nline = \"a=3\"\nfirstmatch = true", "a=1\nb\na=2\n", "a=3\nb\na=2\n"},
		{"regexp matches a comment it is not anchored against", "regexp = \"PermitRootLogin\"\nline = \"PermitRootLogin no\"", "#PermitRootLogin yes\nPort 22\n", "PermitRootLogin no\nPort 22\n"},
		{"the exact line anywhere: no change", "line = \"b\"", "a\nb\nc\n", "a\nb\nc\n"},
		{"regexp misses, the exact line is there: no change", "regexp = \"^x=\"\nline = \"b\"", "a\nb\nc\n", "a\nb\nc\n"},
		{"no newline at EOF: added on its own line", "line = \"z\"", "a\nb", "a\nb\nz\n"},
		{"no newline at EOF, the last line replaced: it gets one", "regexp = \"^b\"\nline = \"b=1\"", "a\nb", "a\nb=1\n"},
		{"no newline at EOF, the exact last line: it gets one (as Ansible)", "line = \"b\"", "a\nb", "a\nb\n"},
		{"no newline at EOF, insert_after the last line (Ansible glues it)", "line = \"z\"\ninsert_after = \"^b\"", "a\nb", "a\nb\nz\n"},
		{"empty file", "line = \"z\"", "", "z\n"},
		{"CRLF file: the replaced line keeps CRLF", "regexp = \"^a=\"\nline = \"a=2\"", "x\r\na=1\r\ny\r\n", "x\r\na=2\r\ny\r\n"},
		{"CRLF file: $ matches before CR", "regexp = \"^a=1$\"\nline = \"a=2\"", "a=1\r\n", "a=2\r\n"},
		{"CRLF file: an added line gets CRLF", "line = \"z\"", "x\r\ny\r\n", "x\r\ny\r\nz\r\n"},
		{"CRLF file: the exact line is there", "line = \"y\"", "x\r\ny\r\n", "x\r\ny\r\n"},
		{"insert_before BOF", "line = \"z\"\ninsert_before = \"BOF\"", "a\nb\n", "z\na\nb\n"},
		{"insert_after BOF (lineinfile reads it as the beginning)", "line = \"z\"\ninsert_after = \"BOF\"", "a\nb\n", "z\na\nb\n"},
		{"insert_after EOF", "line = \"z\"\ninsert_after = \"EOF\"", "a\nb\n", "a\nb\nz\n"},
		{"insert_after: the last match", "line = \"z\"\ninsert_after = \"^#\"", "#1\na\n#2\nb\n", "#1\na\n#2\nz\nb\n"},
		{"insert_after + firstmatch: the first", "line = \"z\"\ninsert_after = \"^#\"\nfirstmatch = true", "#1\na\n#2\nb\n", "#1\nz\na\n#2\nb\n"},
		{"insert_before: the last match", "line = \"z\"\ninsert_before = \"^#\"", "#1\na\n#2\nb\n", "#1\na\nz\n#2\nb\n"},
		{"insert_before + firstmatch: the first", "line = \"z\"\ninsert_before = \"^#\"\nfirstmatch = true", "#1\na\n#2\nb\n", "z\n#1\na\n#2\nb\n"},
		{"insert_before matches nothing: EOF", "line = \"z\"\ninsert_before = \"^nope\"", "a\n", "a\nz\n"},
		{"regexp matches: insert_after ignored", "regexp = \"^a\"\nline = \"a2\"\ninsert_after = \"^b\"", "a1\nb\nc\n", "a2\nb\nc\n"},
		{"backrefs", "regexp = \"^(host=).*\"\nline = \"\\\\g<1>web1\"\nbackrefs = true", "x\nhost=old\n", "x\nhost=web1\n"},
		{"backrefs with \\1 and a named group", "regexp = \"^(?P<k>\\\\w+)=(\\\\d+)$\"\nline = \"\\\\g<k>: \\\\2\\\\\\\\\"\nbackrefs = true", "port=80\n", "port: 80\\\n"},
		{"backrefs, no match: no change", "regexp = \"^(host=).*\"\nline = \"\\\\1web1\"\nbackrefs = true", "x\n", "x\n"},
		{"backrefs, an optional group that did not match", "regexp = \"^a(b)?(c)\"\nline = \"[\\\\1][\\\\2]\"\nbackrefs = true", "ac\n", "[][c]\n"},
		{"without backrefs \\1 is text", "regexp = \"^(host=).*\"\nline = \"\\\\1web1\"", "host=old\n", "\\1web1\n"},
		{"search_string", "search_string = \"127.0.0.1\"\nline = \"127.0.0.1 localhost\"", "127.0.0.1 old\n10.0.0.1 x\n", "127.0.0.1 localhost\n10.0.0.1 x\n"},
		{"absent: every matching line", "state = \"absent\"\nregexp = \"^%wheel\"", "a\n%wheel ALL\nb\n%wheel x\n", "a\nb\n"},
		{"absent: by line", "state = \"absent\"\nline = \"b\"", "a\nb\r\nc\nb", "a\nc\n"},
		{"absent: by search_string", "state = \"absent\"\nsearch_string = \"[x]\"", "a[x]\nb\n", "b\n"},
		{"absent: nothing matches", "state = \"absent\"\nregexp = \"^z\"", "a\nb", "a\nb"},
		{"absent: the last line without a newline", "state = \"absent\"\nline = \"b\"", "a\nb", "a\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := lineEditOf(t, tc.attrs)
			out, changed := e.apply([]byte(tc.in))
			if string(out) != tc.want || changed != (tc.in != tc.want) {
				t.Fatalf("got %q (changed %v), want %q", out, changed, tc.want)
			}
			if again, changed := e.apply(out); changed {
				t.Errorf("a second run changes it again: %q", again)
			}
		})
	}
}
