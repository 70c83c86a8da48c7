package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func TestGatherLocal(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	conf := write("app.conf", []byte("workers = 2\n"), 0o640)
	if err := os.Chown(conf, 0, groupID(t, "daemon")); err != nil {
		t.Fatal(err)
	}
	empty := write("empty", nil, 0o600)
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	bin := write("blob.bin", binary, 0o755)
	big := bytes.Repeat([]byte("0123456789abcdef"), MaxProbeContent/16+1)
	bigPath := write("big", big, 0o644)
	sub := filepath.Join(dir, "sub dir")
	if err := os.Mkdir(sub, 0o2750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(sub, 0o2750); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(conf, link); err != nil {
		t.Fatal(err)
	}
	weird := write("it's $(weird)\nname", []byte("w"), 0o644)
	missing := filepath.Join(dir, "missing")
	fifo := filepath.Join(dir, "fifo") // never opened: opening it would block
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}

	probes := []Probe{
		{Kind: ProbeFile, Path: conf},
		{Kind: ProbeFile, Path: empty},
		{Kind: ProbeFile, Path: bin},
		{Kind: ProbeFile, Path: bigPath},
		{Kind: ProbeFile, Path: sub},
		{Kind: ProbeFile, Path: link},
		{Kind: ProbeFile, Path: weird},
		{Kind: ProbeFile, Path: missing},
		{Kind: ProbeFile, Path: fifo},
		{Kind: ProbeFile, Path: conf, Become: true}, // duplicate
		{Kind: ProbeGuard, Script: "test -f " + ShellQuote(conf)},
		{Kind: ProbeGuard, Script: "exit 7"},
		{Kind: ProbeGuard, Script: "if read x; then exit 5; fi; echo noise; echo noise >&2; exit 1"},
	}
	c := NewLocal(LocalOptions{})
	st, err := Gather(context.Background(), c, Request{Probes: probes})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Stats(); got.Commands != 1 || got.RoundTrips != 1 {
		t.Errorf("Gather cost %+v, want one command", got)
	}

	hostname, _ := os.Hostname()
	if st.Facts.Hostname != hostname || st.Facts.CPUs != runtime.NumCPU() || st.Facts.User != "root" || st.Facts.EffectiveUser != "root" {
		t.Errorf("facts = %+v", st.Facts)
	}
	if st.Facts.OS == "" {
		t.Errorf("no OS fact: %+v", st.Facts)
	}
	_, err = os.Stat("/run/systemd/system")
	if st.Facts.Systemd != (err == nil) {
		t.Errorf("Systemd fact %v, but /run/systemd/system stat error %v", st.Facts.Systemd, err)
	}

	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	tests := []struct {
		path string
		want FileState
	}{
		{conf, FileState{Exists: true, Type: "file", Mode: 0o640, Owner: "root", Group: "daemon", Size: 12, Content: []byte("workers = 2\n"), SHA256: sum([]byte("workers = 2\n"))}},
		{empty, FileState{Exists: true, Type: "file", Mode: 0o600, Owner: "root", Group: "root", Size: 0, Content: []byte{}, SHA256: sum(nil)}},
		{bin, FileState{Exists: true, Type: "file", Mode: 0o755, Owner: "root", Group: "root", Size: 256, Content: binary, SHA256: sum(binary)}},
		{bigPath, FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Size: int64(len(big)), Truncated: true, SHA256: sum(big)}},
		{sub, FileState{Exists: true, Type: "directory", Mode: 0o2750, Owner: "root", Group: "root"}},
		{link, FileState{Exists: true, Type: "symlink", Mode: 0o777, Owner: "root", Group: "root", Size: int64(len(conf))}},
		{weird, FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Size: 1, Content: []byte("w"), SHA256: sum([]byte("w"))}},
		{missing, FileState{}},
		{fifo, FileState{Exists: true, Type: "other", Mode: 0o644, Owner: "root", Group: "root"}},
	}
	for _, tt := range tests {
		got := st.File(tt.path)
		if got == nil {
			t.Errorf("%s: not in state", tt.path)
			continue
		}
		tt.want.Path = tt.path
		if tt.want.Type == "directory" {
			tt.want.Size = got.Size // filesystem-dependent
		}
		if got.Path != tt.want.Path || got.Exists != tt.want.Exists || got.Type != tt.want.Type || got.Mode != tt.want.Mode ||
			got.Owner != tt.want.Owner || got.Group != tt.want.Group || got.Size != tt.want.Size ||
			!bytes.Equal(got.Content, tt.want.Content) || (got.Content == nil) != (tt.want.Content == nil) ||
			got.Truncated != tt.want.Truncated || got.SHA256 != tt.want.SHA256 {
			gc := got.Content
			if len(gc) > 40 {
				gc = gc[:40]
			}
			t.Errorf("%s:\n got %+v (content %q)\nwant %+v", tt.path, *got, gc, tt.want)
		}
	}
	if len(st.Files) != 9 {
		t.Errorf("%d files in state, want 9 (duplicates read once)", len(st.Files))
	}
	wantGuards := map[string]int{probes[10].Script: 0, probes[11].Script: 7, probes[12].Script: 1}
	for script, want := range wantGuards {
		if got, ok := st.Guard(script); !ok || got != want {
			t.Errorf("guard %q = %d, %v; want %d", script, got, ok, want)
		}
	}
}

func TestGatherUnits(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		t.Skip("systemd is not PID 1 on this machine: units are covered by the real-host end-to-end suite")
	}
	c := NewLocal(LocalOptions{})
	st, err := Gather(context.Background(), c, Request{Probes: []Probe{
		{Kind: ProbeUnit, Unit: "tend-no-such-unit.service"},
		{Kind: ProbeUnit, Unit: "systemd-journald.service"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if u := st.Unit("tend-no-such-unit.service"); u == nil || u.LoadState != "not-found" || u.Active() {
		t.Errorf("missing unit = %+v", u)
	}
	if u := st.Unit("systemd-journald.service"); u == nil || u.LoadState != "loaded" || !u.Active() || u.MainPID == 0 {
		t.Errorf("journald = %+v", u)
	}
}

func TestGatherUnitsWithoutSystemd(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd is PID 1 here")
	}
	st, err := Gather(context.Background(), NewLocal(LocalOptions{}), Request{Probes: []Probe{{Kind: ProbeUnit, Unit: "x.service"}}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Facts.Systemd || st.Unit("x.service") != nil {
		t.Errorf("without systemd: facts %+v, unit %+v", st.Facts, st.Unit("x.service"))
	}
}

func TestGatherBecome(t *testing.T) {
	fake := installFakeSudo(t, "pw-gather")
	fake.Setenv(t)
	t.Setenv("FAKESUDO_LOGIN", "tend-login")
	c := localAs(LocalOptions{Become: true, BecomePassword: func() (string, error) { return "pw-gather", nil }})
	dir := t.TempDir()
	var probes []Probe
	for i := 0; i < 10; i++ {
		probes = append(probes, Probe{Kind: ProbeFile, Path: filepath.Join(dir, strings.Repeat("f", i+1)), Become: i%2 == 0})
	}
	st, err := Gather(context.Background(), c, Request{Probes: probes, Become: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Facts.User != "tend-login" || st.Facts.EffectiveUser != "root" {
		t.Errorf("facts = %+v", st.Facts)
	}
	if len(fake.Argv(t)) != 1 || c.Stats().Commands != 1 {
		t.Errorf("sudo ran %d times for %d commands, want one", len(fake.Argv(t)), c.Stats().Commands)
	}
	if len(st.Files) != 10 {
		t.Errorf("%d files", len(st.Files))
	}
}

func TestGatherRejectsBadProbes(t *testing.T) {
	for _, p := range []Probe{
		{Kind: ProbeFile, Path: "relative/path"},
		{Kind: ProbeUnit, Unit: ""},
		{Kind: ProbeGuard, Script: "  "},
		{Kind: 99},
	} {
		if _, err := Gather(context.Background(), NewLocal(LocalOptions{}), Request{Probes: []Probe{p}}); err == nil {
			t.Errorf("probe %+v accepted", p)
		}
	}
}

// TestGatherParserStrict feeds the parser damaged output: every damage must
// be an error, not a quietly empty state.
func TestGatherParserStrict(t *testing.T) {
	b, err := newBatch(Request{Probes: []Probe{{Kind: ProbeFile, Path: "/a"}, {Kind: ProbeGuard, Script: "true"}, {Kind: ProbeFile, Path: "/b"}}})
	if err != nil {
		t.Fatal(err)
	}
	facts := "@@tend facts\nhostname h\nnproc 2\nos debian\nosversion 12\nkernel 6.1.0\narch x86_64\nvirt none\ninit systemd\nuser u\neuser root\nsystemd no\n"
	good := facts + "@@tend 0 file\nstat regular file|644|root|root|2\ncontent aGk=\n@@tend 1 guard\nrc 0\n@@tend 2 file\nmissing\n@@tend end\n"
	st, err := b.parse(good)
	if err != nil {
		t.Fatalf("good output: %v", err)
	}
	if string(st.File("/a").Content) != "hi" || st.File("/b").Exists {
		t.Errorf("parsed %+v %+v", st.File("/a"), st.File("/b"))
	}
	bad := map[string]string{
		"truncated":        strings.TrimSuffix(good, "@@tend end\n"),
		"empty":            "",
		"missing section":  facts + "@@tend 0 file\nmissing\n@@tend 1 guard\nrc 0\n@@tend end\n",
		"empty section":    facts + "@@tend 0 file\n@@tend 1 guard\nrc 0\n@@tend 2 file\nmissing\n@@tend end\n",
		"bad base64":       strings.Replace(good, "aGk=", "a!k=", 1),
		"bad stat":         strings.Replace(good, "regular file|644|root|root|2", "regular file|644|root|2", 1),
		"bad mode":         strings.Replace(good, "|644|", "|9x|", 1),
		"unreadable":       strings.Replace(good, "content aGk=", "content \nerror cannot read the file", 1),
		"bad rc":           strings.Replace(good, "rc 0", "rc zero", 1),
		"out of order":     facts + "@@tend 1 guard\nrc 0\n@@tend 0 file\nmissing\n@@tend 2 file\nmissing\n@@tend end\n",
		"missing fact":     strings.Replace(good, "nproc 2\n", "", 1),
		"unknown fact":     strings.Replace(good, "nproc 2\n", "nproc 2\nshoe 9\n", 1),
		"trailing garbage": good + "junk\n",
		"stray line":       strings.Replace(good, "missing\n", "missing\nmore\n", 1),
		"bad sha":          strings.Replace(good, "content aGk=", "sha256 abc", 1),
		"no content line":  strings.Replace(good, "content aGk=\n", "", 1),
		"denied":           strings.Replace(good, "@@tend 2 file\nmissing", "@@tend 2 file\ndenied", 1),
		"denied and more":  strings.Replace(good, "@@tend 2 file\nmissing", "@@tend 2 file\ndenied\nmissing", 1),
	}
	for name, out := range bad {
		if _, err := b.parse(out); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

func TestParseUnits(t *testing.T) {
	out := strings.Split(`LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=enabled
MainPID=42
NRestarts=3
NeedDaemonReload=yes
FragmentPath=/etc/systemd/system/staffrota.service

LoadState=not-found
ActiveState=inactive
SubState=dead
MainPID=0
NRestarts=0
NeedDaemonReload=no`, "\n")
	units, err := parseUnits([]string{"staffrota.service", "nope.service"}, out)
	if err != nil {
		t.Fatal(err)
	}
	want := UnitState{Name: "staffrota.service", LoadState: "loaded", ActiveState: "active", SubState: "running", UnitFileState: "enabled",
		MainPID: 42, NRestarts: 3, NeedDaemonReload: true, FragmentPath: "/etc/systemd/system/staffrota.service"}
	if !reflect.DeepEqual(*units["staffrota.service"], want) {
		t.Errorf("got %+v\nwant %+v", *units["staffrota.service"], want)
	}
	if u := units["nope.service"]; u.LoadState != "not-found" || u.Enabled() || u.Active() {
		t.Errorf("nope = %+v", u)
	}
	if _, err := parseUnits([]string{"a.service", "b.service", "c.service"}, out); err == nil {
		t.Error("2 blocks for 3 units parsed")
	}
	if _, err := parseUnits([]string{"a.service"}, []string{"ActiveState=active"}); err == nil {
		t.Error("block without LoadState parsed")
	}
}

// The drop-ins of a unit: its own, its template's (foo@.service.d), the
// dash-prefix ones (foo-.service.d) and the type's (service.d); a name in
// a higher-priority directory masks the same name further down.
func TestDropInsScan(t *testing.T) {
	hi, lo := t.TempDir(), t.TempDir()
	put := func(dir, sub, name, content string) {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, sub, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put(hi, "app-web@1.service.d", "a.conf", "A")
	put(hi, "app-web@.service.d", "override.conf", "T")
	put(lo, "app-web@.service.d", "override.conf", "masked")
	put(lo, "app-.service.d", "p.conf", "P")
	put(lo, "service.d", "s.conf", "S")
	put(lo, "other.service.d", "x.conf", "X")
	out, err := exec.Command("sh", "-c", scriptHead+`tend_dropins "$@"`, "sh", "app-web@1.service", hi, lo).Output()
	if err != nil {
		t.Fatal(err)
	}
	dropins, err := parseDropIns(strings.Split(strings.TrimSpace(string(out)), "\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range dropins {
		got[d.Path] = string(d.Content)
	}
	want := map[string]string{
		filepath.Join(hi, "app-web@1.service.d/a.conf"):       "A",
		filepath.Join(hi, "app-web@.service.d/override.conf"): "T",
		filepath.Join(lo, "app-.service.d/p.conf"):            "P",
		filepath.Join(lo, "service.d/s.conf"):                 "S",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("drop-ins %v, want %v", got, want)
	}
}

// testFact is a fact whose snippet and parser are given by the test.
type testFact struct {
	key, script string
	parse       func(out []byte, rc int) (any, error)
}

func (f testFact) Key() string    { return f.key }
func (f testFact) Script() string { return f.script }
func (f testFact) Parse(out []byte, rc int) (any, error) {
	if f.parse != nil {
		return f.parse(out, rc)
	}
	return fmt.Sprintf("%d:%s", rc, out), nil
}

// TestGatherFacts runs facts of every shape through one real gather: what a
// snippet prints (markers, no final newline, binary) reaches its parser
// byte for byte with its exit status, an exit ends only its own snippet,
// the same key is read once, and a parser's error fails the gather.
func TestGatherFacts(t *testing.T) {
	conn := NewLocal(LocalOptions{})
	counter := filepath.Join(t.TempDir(), "n")
	facts := []testFact{
		{key: "markers", script: "printf '@@tend end\\n@@tend 0 file\\n'"},
		{key: "nonl", script: "printf 'a b'; exit 3"},
		{key: "binary", script: "printf '\\000\\377\\n\\n'"},
		{key: "stderr", script: "echo out; echo err >&2; false"},
		{key: "once", script: "echo x >>" + ShellQuote(counter) + "; cat " + ShellQuote(counter)},
		{key: "once", script: "echo x >>" + ShellQuote(counter) + "; cat " + ShellQuote(counter)},
	}
	var probes []Probe
	for _, f := range facts {
		probes = append(probes, Probe{Kind: ProbeFact, Fact: f})
	}
	probes = append(probes, Probe{Kind: ProbeGuard, Script: "true"})
	st, err := Gather(context.Background(), conn, Request{Probes: probes})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"markers": "0:@@tend end\n@@tend 0 file\n",
		"nonl":    "3:a b",
		"binary":  "0:\x00\xff\n\n",
		"stderr":  "1:out\n",
		"once":    "0:x\n",
	}
	for key, w := range want {
		if got, ok := st.Fact(testFact{key: key}); !ok || got != w {
			t.Errorf("fact %s = %q (read: %v), want %q", key, got, ok, w)
		}
	}
	if rc, ok := st.Guard("true"); !ok || rc != 0 {
		t.Errorf("the guard after the facts: %d %v", rc, ok)
	}
	if st.Facts.Kernel == "" || st.Facts.Arch == "" || st.Facts.Virtualization == "" {
		t.Errorf("host facts missing: %+v", st.Facts)
	}
	bad := testFact{key: "bad", script: "echo nonsense", parse: func([]byte, int) (any, error) { return nil, errors.New("not understood") }}
	_, err = Gather(context.Background(), conn, Request{Probes: []Probe{{Kind: ProbeFact, Fact: bad}}})
	if err == nil || !strings.Contains(err.Error(), "fact bad: not understood") {
		t.Errorf("a parser's error: %v", err)
	}
	if _, err := Gather(context.Background(), conn, Request{Probes: []Probe{{Kind: ProbeFact}}}); err == nil {
		t.Error("a fact probe without a fact was accepted")
	}
}
