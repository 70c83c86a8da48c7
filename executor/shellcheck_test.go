package executor

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The shell tend runs on hosts, as it is run (the scripts assembled), passes
// shellcheck as POSIX sh: these scripts decide what happens to production
// files, so a quoting slip or a bashism must not get in.
func TestShellcheck(t *testing.T) {
	shellcheck := needTool(t, "shellcheck")
	write, err := WriteScript("/etc/tend/app.conf", []byte("x"), FileAttrs{Mode: 0o640, Owner: "root", Group: "adm", Become: true})
	if err != nil {
		t.Fatal(err)
	}
	gather, err := newBatch(Request{
		Probes: []Probe{
			{Kind: ProbeFile, Path: "/etc/tend/app.conf"},
			{Kind: ProbeGuard, Script: "test -e /x"},
			{Kind: ProbeUnit, Unit: "app.service", DropIns: true},
		},
		Become:  true,
		Records: true,
		Effects: []Effect{{Kind: EffectDaemonReload}, {Kind: EffectRestart, Unit: "app.service", Settle: 2 * time.Second}},
		Clear:   []string{"e-0123456789abcdef0123"},
		Store:   []Record{HandlerRecord("p", "h", "file.x", time.Unix(0, 0))},
	})
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := WithRecords(Command{Script: "true"}, []Record{HandlerRecord("p", "h", "file.x", time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string]string{
		"boot.sh":     bootScript,
		"prologue.sh": string(supervisorArgs{token: "T", script: "true"}.prologue()),
		"write.sh":    write.Script,
		"gather.sh":   gather.script(nil),
		"lock.sh":     gather.script(&LockHolder{Command: "tend apply"}),
		"trusted.sh":  TrustedScript("/etc/tend", "/etc/tend/app.conf", "chmod 0640 /etc/tend/app.conf"),
		"records.sh":  recorded.Script,
		"revert.sh":   revertCommand("r-1"),
	}
	dir := t.TempDir()
	for name, src := range scripts {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		// SC2317: functions called from traps look unreachable.
		out, err := exec.Command(shellcheck, "-s", "sh", "-S", "warning", "-e", "SC2317", p).CombinedOutput()
		if err != nil {
			t.Errorf("%s:\n%s", name, out)
		}
	}
}
