package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// tend fmt: --check lists and writes nothing (exit 2), --diff shows, a
// plain run writes (keeping the mode), a file that does not parse is left
// as it is (exit 5) while the others are formatted, "-" is a filter.
func TestFmtCommand(t *testing.T) {
	dir := t.TempDir()
	ugly := "play \"a\" {\nhosts=[\"web\"]\n}\n"
	pretty := "play \"a\" {\n  hosts = [\"web\"]\n}\n"
	bad := "x = {\n"
	write := func() {
		os.MkdirAll(filepath.Join(dir, "sub", ".git"), 0o755)
		os.WriteFile(filepath.Join(dir, "sub", "site.hcl"), []byte(ugly), 0o640)
		os.WriteFile(filepath.Join(dir, "sub", ".git", "x.hcl"), []byte(ugly), 0o644)
		os.WriteFile(filepath.Join(dir, "ok.hcl"), []byte(pretty), 0o644)
	}
	read := func(p string) string {
		data, _ := os.ReadFile(filepath.Join(dir, p))
		return string(data)
	}
	write()
	r := tend(t, "fmt", "--check", dir)
	r.want(t, ExitChanges)
	if r.stdout != filepath.Join(dir, "sub", "site.hcl")+"\n" || read("sub/site.hcl") != ugly {
		t.Errorf("--check: stdout %q, file now %q", r.stdout, read("sub/site.hcl"))
	}
	r = tend(t, "fmt", "--check", "--diff", "--no-color", dir)
	r.want(t, ExitChanges)
	if !strings.Contains(r.stdout, "-hosts=[\"web\"]\n+  hosts = [\"web\"]\n") || read("sub/site.hcl") != ugly {
		t.Errorf("--check --diff: stdout:\n%s", r.stdout)
	}
	r = tend(t, "fmt", dir)
	r.want(t, ExitOK)
	fi, _ := os.Stat(filepath.Join(dir, "sub", "site.hcl"))
	if read("sub/site.hcl") != pretty || fi.Mode().Perm() != 0o640 || read("sub/.git/x.hcl") != ugly {
		t.Errorf("fmt: site.hcl %q (mode %v), .git/x.hcl %q", read("sub/site.hcl"), fi.Mode().Perm(), read("sub/.git/x.hcl"))
	}
	tend(t, "fmt", "--check", dir).want(t, ExitOK)

	write()
	os.WriteFile(filepath.Join(dir, "bad.hcl"), []byte(bad), 0o644)
	r = tend(t, "fmt", "--no-color", dir)
	r.want(t, ExitInvalid)
	if read("bad.hcl") != bad || read("sub/site.hcl") != pretty || !strings.Contains(r.stderr, "bad.hcl:2:1: error: Missing expression") {
		t.Errorf("bad.hcl %q, site.hcl %q, stderr:\n%s", read("bad.hcl"), read("sub/site.hcl"), r.stderr)
	}

	var out, errOut bytes.Buffer
	root := newRootCommand()
	root.SetArgs([]string{"fmt", "-"})
	root.SetIn(strings.NewReader(ugly))
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.ExecuteContext(context.Background()); err != nil || out.String() != pretty {
		t.Errorf("fmt -: %v, %q", err, out.String())
	}
}

// tend --version and tend version name the version, the Go version and
// the platform; --output json (or --json) makes it an object.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := tend(t, args...)
		r.want(t, ExitOK)
		want := "(commit "
		if !strings.HasPrefix(r.stdout, "tend ") || !strings.Contains(r.stdout, want) ||
			!strings.Contains(r.stdout, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")") || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("%v: %q", args, r.stdout)
		}
	}
	defer func(v, c string) { version, commit = v, c }(version, commit)
	version, commit = "v1.2.3", "0123456789abcdef"
	if got, want := currentBuild().String(), "tend v1.2.3 (commit 0123456789abcdef, "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")"; got != want {
		t.Errorf("with link-time version and commit: %q, want %q", got, want)
	}
	for _, flag := range []string{"--json", "--output=json", "-ojson"} {
		r := tend(t, "version", flag)
		r.want(t, ExitOK)
		var b buildInfo
		if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || b.GoVersion != runtime.Version() || b.OS != runtime.GOOS || b.Version == "" {
			t.Errorf("version %s: %v %+v\n%s", flag, err, b, r.stdout)
		}
	}
}

// --output human|json, --json its alias; contradictions and unknown
// formats are invalid input, said once.
func TestOutputFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		json bool
		err  string
	}{
		{[]string{"version"}, ExitOK, false, ""},
		{[]string{"version", "--output", "human"}, ExitOK, false, ""},
		{[]string{"version", "--output", "json"}, ExitOK, true, ""},
		{[]string{"version", "--json"}, ExitOK, true, ""},
		{[]string{"version", "--json", "--output", "json"}, ExitOK, true, ""},
		{[]string{"version", "--json", "--output", "human"}, ExitInvalid, false, "tend: --json and --output human contradict each other"},
		{[]string{"version", "--output", "yaml"}, ExitInvalid, false, `tend: --output "yaml": want human or json`},
	} {
		r := tend(t, tc.args...)
		if r.code != tc.code {
			t.Errorf("%v: exit %d, want %d; %s", tc.args, r.code, tc.code, r.stderr)
			continue
		}
		if tc.err != "" {
			if !strings.HasPrefix(r.stderr, tc.err) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%v: stderr %q, want one line starting %q", tc.args, r.stderr, tc.err)
			}
			continue
		}
		if got := strings.HasPrefix(r.stdout, "{"); got != tc.json {
			t.Errorf("%v: JSON %v, want %v: %s", tc.args, got, tc.json, r.stdout)
		}
	}
}
