package modules

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor"
)

func TestSysctlPath(t *testing.T) {
	for _, tt := range []struct{ key, want string }{
		{"net.ipv4.ip_forward", "net/ipv4/ip_forward"},
		{"net/ipv4/ip_forward", "net/ipv4/ip_forward"},
		{"net.ipv4.conf.eth0/100.rp_filter", "net/ipv4/conf/eth0.100/rp_filter"},
		{"net/ipv4/conf/eth0.100/rp_filter", "net/ipv4/conf/eth0.100/rp_filter"},
		{"kernel.pid_max", "kernel/pid_max"},
		{"vm.swappiness", "vm/swappiness"},
		{"net.ipv4.conf.all.rp_filter", "net/ipv4/conf/all/rp_filter"},
		{"net.ipv4.conf.*.rp_filter", ""},
		{"net..ipv4", ""},
		{"net.ipv4.", ""},
		{".net", ""},
		{"/proc/sys/net", ""},
		{"net/../../etc/passwd", ""},
		{"net.ipv4 ip_forward", ""},
		{"net.ipv4.ip_forward=1", ""},
		{"-net.ipv4.ip_forward", ""},
		{"", ""},
	} {
		got, err := sysctlPath(tt.key)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q accepted as %q", tt.key, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("sysctlPath(%q) = %q, %v; want %q", tt.key, got, err, tt.want)
		}
	}
}

// TestEditSysctlFile: only the parameter's line changes; every other line
// stays byte for byte.
func TestEditSysctlFile(t *testing.T) {
	const key, proc = "net.ipv4.ip_forward", "net/ipv4/ip_forward"
	tests := []struct {
		name, in string
		value    string
		absent   bool
		want     string
	}{
		{"new file", "", "1", false, "net.ipv4.ip_forward = 1\n"},
		{"appended, other lines kept", "# mine\nvm.swappiness=10\n", "1", false, "# mine\nvm.swappiness=10\nnet.ipv4.ip_forward = 1\n"},
		{"appended after a last line without newline", "vm.swappiness = 10", "1", false, "vm.swappiness = 10\nnet.ipv4.ip_forward = 1\n"},
		{"replaced in place", "a.b = 1\nnet.ipv4.ip_forward = 0\n\tc.d=2  \n", "1", false, "a.b = 1\nnet.ipv4.ip_forward = 1\n\tc.d=2  \n"},
		{"slash form matches", "net/ipv4/ip_forward=0\n", "1", false, "net.ipv4.ip_forward = 1\n"},
		{"right already: kept as written", "net.ipv4.ip_forward=1   \n", "1", false, "net.ipv4.ip_forward=1   \n"},
		{"multi-value, other white space", "net.ipv4.tcp_rmem = 1\t2\n", "1", false, "net.ipv4.tcp_rmem = 1\t2\nnet.ipv4.ip_forward = 1\n"},
		{"duplicates removed (the last would win)", "net.ipv4.ip_forward = 1\nx.y = 2\nnet.ipv4.ip_forward = 0\n", "1", false, "net.ipv4.ip_forward = 1\nx.y = 2\n"},
		{"comment untouched", "# net.ipv4.ip_forward = 0\n; net.ipv4.ip_forward = 0\n", "1", false, "# net.ipv4.ip_forward = 0\n; net.ipv4.ip_forward = 0\nnet.ipv4.ip_forward = 1\n"},
		{"ignore-failure prefix rewritten", "-net.ipv4.ip_forward = 1\n", "1", false, "net.ipv4.ip_forward = 1\n"},
		{"last line without newline replaced", "net.ipv4.ip_forward = 0", "1", false, "net.ipv4.ip_forward = 1"},
		{"another key with the prefix kept", "net.ipv4.ip_forward_use_pmtu = 0\n", "1", false, "net.ipv4.ip_forward_use_pmtu = 0\nnet.ipv4.ip_forward = 1\n"},
		{"absent: every line of it removed", "a = 1\nnet.ipv4.ip_forward = 1\nnet/ipv4/ip_forward=0\nb = 2", "", true, "a = 1\nb = 2"},
		{"absent: not there", "a = 1\n", "", true, "a = 1\n"},
		{"garbage lines kept", "not a setting\n\n=\n", "1", false, "not a setting\n\n=\nnet.ipv4.ip_forward = 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(editSysctlFile([]byte(tt.in), key, proc, tt.value, tt.absent))
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			// Idempotent.
			if again := string(editSysctlFile([]byte(got), key, proc, tt.value, tt.absent)); again != got {
				t.Errorf("second edit %q", again)
			}
		})
	}
}

func TestSysctlFactParse(t *testing.T) {
	f := sysctlFact{"net/ipv4/tcp_rmem"}
	for _, tt := range []struct {
		out  string
		rc   int
		want sysctlLive
		err  bool
	}{
		{"value 4096\t131072\t6291456\n", 0, sysctlLive{true, true, "4096 131072 6291456"}, false},
		{"value 1\n", 0, sysctlLive{true, true, "1"}, false},
		{"value a\nb\n", 0, sysctlLive{true, true, "a b"}, false},
		{"missing\n", 0, sysctlLive{}, false},
		{"unreadable\n", 0, sysctlLive{Exists: true}, false},
		{"notfile\n", 0, sysctlLive{}, true},
		{"value 1", 0, sysctlLive{}, true},
		{"", 0, sysctlLive{}, true},
		{"1\n", 0, sysctlLive{}, true},
		{"value 1\n", 2, sysctlLive{}, true},
		{"Missing\n", 0, sysctlLive{}, true},
	} {
		got, err := f.Parse([]byte(tt.out), tt.rc)
		if (err != nil) != tt.err || (err == nil && got != tt.want) {
			t.Errorf("Parse(%q, %d) = %+v, %v", tt.out, tt.rc, got, err)
		}
	}
}

func TestSysctlDiagnostics(t *testing.T) {
	tests := []struct {
		name, label, src, at, want string
	}{
		{"bad key", "net.ipv4.*.rp_filter", "value = 1\n", "", "is not a kernel parameter name"},
		{"no value", "net.ipv4.ip_forward", "live = true\n", "", "\"value\" is required"},
		{"bool value", "net.ipv4.ip_forward", "value = true\n", "1:1", "is a bool"},
		{"two lines", "net.ipv4.ip_forward", "value = \"1\\n2\"\n", "1:1", "one line"},
		{"empty", "net.ipv4.ip_forward", "value = \" \"\n", "1:1", "empty"},
		{"not .conf", "net.ipv4.ip_forward", "value = 1\nfile = \"/etc/sysctl.d/tend\"\n", "2:1", "does not end in .conf"},
		{"relative file", "net.ipv4.ip_forward", "value = 1\nfile = \"tend.conf\"\n", "2:1", "not an absolute path"},
		{"bad state", "net.ipv4.ip_forward", "value = 1\nstate = \"gone\"\n", "2:1", "state must be"},
		{"absent with value", "net.ipv4.ip_forward", "state = \"absent\"\nvalue = 1\n", "2:1", "no meaning"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decodeModule(t, "sysctl", tt.label, tt.src, nil)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			d := diags[0]
			if !strings.Contains(d.Summary+" "+d.Detail, tt.want) {
				t.Errorf("%q: %q, want %q", d.Summary, d.Detail, tt.want)
			}
			if tt.at != "" && pos(d) != tt.at {
				t.Errorf("at %s, want %s", pos(d), tt.at)
			}
		})
	}
	m := mustDecode(t, "sysctl", "net.ipv4.tcp_rmem", "value = \"4096  131072\t6291456\"\n").(*Sysctl)
	if m.value != "4096 131072 6291456" || m.file.Path != "/etc/sysctl.d/90-tend.conf" || !m.live {
		t.Errorf("decoded %+v", m)
	}
}

// sysctlState is the gathered state of the file and of the live value.
func sysctlState(file *executor.FileState, proc string, live sysctlLive) *executor.State {
	if file == nil {
		file = &executor.FileState{}
	}
	file.Path = "/etc/sysctl.d/90-tend.conf"
	return &executor.State{
		Files:  map[string]*executor.FileState{file.Path: file},
		Values: map[string]any{sysctlFact{proc}.Key(): live},
	}
}

func TestSysctlCheck(t *testing.T) {
	const proc = "net/ipv4/ip_forward"
	inFile := &executor.FileState{Exists: true, Type: "file", Mode: 0o644, Owner: "root", Group: "root", Content: []byte("vm.swappiness = 10\nnet.ipv4.ip_forward = 1\n")}
	m := mustDecode(t, "sysctl", "net.ipv4.ip_forward", "value = 1\n")

	d, err := m.Check(context.Background(), &Target{State: sysctlState(inFile, proc, sysctlLive{true, true, "1"})})
	if err != nil || !d.Empty() {
		t.Fatalf("in sync: %+v %v", d, err)
	}
	d, err = m.Check(context.Background(), &Target{State: sysctlState(nil, proc, sysctlLive{true, true, "0"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := changeList(d); got != "exists:absent->present content:-> live:0->1" || !d.Beyond {
		t.Errorf("changes %q, beyond %v", got, d.Beyond)
	}
	if c := d.Change("content"); string(c.NewContent) != "net.ipv4.ip_forward = 1\n" {
		t.Errorf("content %q", c.NewContent)
	}
	// Undo sets the old live value back.
	tgt := &Target{State: sysctlState(nil, proc, sysctlLive{true, true, "0"}), Become: true}
	cmd, ok := m.(Undoer).Undo(tgt)
	if !ok || !strings.Contains(cmd.Script, "sysctl -q -w -- 'net/ipv4/ip_forward=0'") || !cmd.Become {
		t.Errorf("undo %v %+v", ok, cmd)
	}
	// Apply writes the file, then the live value.
	conn := &fakeConn{}
	tgt.Conn = conn
	if err := m.Apply(context.Background(), tgt, d); err != nil {
		t.Fatal(err)
	}
	if len(conn.writes) != 1 || conn.writes[0].Data != "net.ipv4.ip_forward = 1\n" || len(conn.scripts) != 1 || !strings.Contains(conn.scripts[0], "sysctl -q -w -- 'net/ipv4/ip_forward=1'") {
		t.Errorf("writes %+v scripts %q", conn.writes, conn.scripts)
	}
	// Only the file differs: nothing beyond it.
	d, _ = m.Check(context.Background(), &Target{State: sysctlState(nil, proc, sysctlLive{true, true, "1"})})
	if d.Beyond || d.Change("live") != nil {
		t.Errorf("file only: %+v", d)
	}
	if _, ok := m.(Undoer).Undo(&Target{State: sysctlState(nil, proc, sysctlLive{true, true, "1"})}); ok {
		t.Error("an undo for a live value that does not change")
	}

	for _, tt := range []struct {
		name string
		live sysctlLive
		want string
	}{
		{"no such parameter", sysctlLive{}, "no such kernel parameter: net.ipv4.ip_forward (/proc/sys/net/ipv4/ip_forward"},
		{"write-only", sysctlLive{Exists: true}, "write-only"},
	} {
		if _, err := m.Check(context.Background(), &Target{State: sysctlState(inFile, proc, tt.live)}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	// The file alone (live = false) may name a parameter the running
	// kernel lacks.
	fileOnly := mustDecode(t, "sysctl", "net.ipv4.ip_forward", "value = 1\nlive = false\n")
	if d, err := fileOnly.Check(context.Background(), &Target{State: sysctlState(inFile, proc, sysctlLive{})}); err != nil || !d.Empty() || len(d.Notes) != 1 {
		t.Errorf("live = false, missing parameter: %+v %v", d, err)
	}
	absent := mustDecode(t, "sysctl", "net.ipv4.ip_forward", "state = \"absent\"\n")
	d, err = absent.Check(context.Background(), &Target{State: sysctlState(inFile, proc, sysctlLive{true, true, "1"})})
	if err != nil || changeList(d) != "content:->" || string(d.Change("content").NewContent) != "vm.swappiness = 10\n" || d.Beyond {
		t.Errorf("absent: %+v %v", d, err)
	}
}

// TestSysctlLocal converges two parameters sharing one file on this
// machine (the file only: the live values are this machine's), reading
// the live values through the real fact.
func TestSysctlLocal(t *testing.T) {
	for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv4/tcp_rmem"} {
		if _, err := os.Stat(p); err != nil {
			t.Skip("no", p)
		}
	}
	file := filepath.Join(t.TempDir(), "90-tend.conf")
	if err := os.WriteFile(file, []byte("# kept\nkernel.x = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rmem, err := os.ReadFile("/proc/sys/net/ipv4/tcp_rmem")
	if err != nil {
		t.Fatal(err)
	}
	// The kernel's tabs and a value written with spaces are equal.
	live := strings.Join(strings.Fields(string(rmem)), " ")
	a := mustDecode(t, "sysctl", "net.ipv4.ip_forward", "value = 1\nlive = false\nfile = \""+file+"\"\n")
	b := mustDecode(t, "sysctl", "net.ipv4.tcp_rmem", "value = \""+strings.ReplaceAll(live, " ", "  ")+"\"\nfile = \""+file+"\"\n")
	converge(t, a)
	d := converge(t, b)
	if d.Change("live") != nil {
		t.Errorf("tcp_rmem's live value differs: %+v", d.Change("live"))
	}
	got, _ := os.ReadFile(file)
	if want := "# kept\nkernel.x = 1\nnet.ipv4.ip_forward = 1\nnet.ipv4.tcp_rmem = " + live + "\n"; string(got) != want {
		t.Errorf("file %q, want %q", got, want)
	}
	if d, err := checkOnly(t, a); err != nil || !d.Empty() {
		t.Errorf("the first task after the second: %+v %v", d, err)
	}
}
