package hclfmt

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Every testdata/*.hcl formats to its .golden, which is a fixed point.
func TestFormatGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.hcl")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, diags := Format(in, src)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			golden := strings.TrimSuffix(in, ".hcl") + ".golden"
			if *update {
				os.WriteFile(golden, got, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			again, _ := Format(in, got)
			if string(again) != string(got) {
				t.Errorf("formatting twice changes the result:\n%s", again)
			}
		})
	}
}

// A file that does not parse is refused with its diagnostic.
func TestFormatRefusesInvalid(t *testing.T) {
	for _, src := range []string{"x = {\n", "play \"a\" {\n  hosts = [\"web\"\n}\n", "a = 1 +\n"} {
		out, diags := Format("bad.hcl", []byte(src))
		if !diags.HasErrors() || out != nil {
			t.Errorf("%q: got %q, %v; want an error and no output", src, out, diags)
			continue
		}
		if r := diags[0].Subject; r == nil || r.Filename != "bad.hcl" || r.Start.Line < 1 {
			t.Errorf("%q: diagnostic without a place: %v", src, diags[0])
		}
	}
}

// The token check catches a formatter that would change content.
func TestSameTokens(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"a=1\n", "a = 1\n", true},
		{"a=1 # c  \n", "a = 1 # c\n", true},
		{"a=1\n", "a = 2\n", false},
		{"a=\"x y\"\n", "a = \"x  y\"\n", false},
		{"a=1\nb=2\n", "a = 1\n", false},
	} {
		if got := sameTokens("t.hcl", []byte(tc.a), []byte(tc.b)); got != tc.same {
			t.Errorf("sameTokens(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.hcl", "sub/b.hcl", "sub/deep/c.hcl", "sub/notes.txt", ".git/d.hcl", "testdata/e.hcl", "sub/.hidden/f.hcl"} {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte("a = 1\n"), 0o644)
	}
	rel := func(files []string) []string {
		var out []string
		for _, f := range files {
			r, _ := filepath.Rel(dir, f)
			out = append(out, r)
		}
		return out
	}
	got, err := Files([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.hcl", "sub/b.hcl", "sub/deep/c.hcl"}; !slices.Equal(rel(got), want) {
		t.Errorf("Files(dir) = %v, want %v", rel(got), want)
	}
	// Named explicitly, testdata and a file of any name are formatted.
	got, err = Files([]string{filepath.Join(dir, "testdata"), filepath.Join(dir, "sub/notes.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"testdata/e.hcl", "sub/notes.txt"}; !slices.Equal(rel(got), want) {
		t.Errorf("Files(testdata, notes.txt) = %v, want %v", rel(got), want)
	}
	if _, err := Files([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("Files(missing): no error")
	}
}

// WriteFile keeps the file's mode and a symbolic link stays one.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.hcl")
	os.WriteFile(target, []byte("a=1\n"), 0o640)
	link := filepath.Join(dir, "link.hcl")
	if err := os.Symlink("real.hcl", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("a=1\n"), []byte("a = 1\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is no longer a link: %v %v", fi.Mode(), err)
	}
	fi, _ = os.Stat(target)
	data, _ := os.ReadFile(target)
	if fi.Mode().Perm() != 0o640 || string(data) != "a = 1\n" {
		t.Errorf("real.hcl: mode %v, content %q", fi.Mode().Perm(), data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// WriteFile leaves alone a read-only file and a file edited since it was
// read (formatting it would lose the edit).
func TestWriteFileRefuses(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro.hcl")
	if err := os.WriteFile(ro, []byte("a=1\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(ro, []byte("a=1\n"), []byte("a = 1\n")); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("read-only file: err = %v", err)
	}
	edited := filepath.Join(dir, "edited.hcl")
	if err := os.WriteFile(edited, []byte("a=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(edited, []byte("a=1\n"), []byte("a = 1\n")); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("edited file: err = %v", err)
	}
	for f, want := range map[string]string{ro: "a=1\n", edited: "a=2\n"} {
		if got, _ := os.ReadFile(f); string(got) != want {
			t.Errorf("%s = %q, want %q (untouched)", f, got, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}
