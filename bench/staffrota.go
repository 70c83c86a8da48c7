package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tend-sh/tend/test/fleet"
)

// unitPath is the unit both tools manage in the staffrota scenario.
const unitPath = "/etc/systemd/system/staffrota.service"

// healthScript waits, bounded to 100 tries 0.1 s apart, until the app
// answers GET /health/ with 200 on its unix socket. It holds no single
// quotes, so it fits in sh's '...'.
const healthScript = `import socket, sys, time
for i in range(100):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect("` + fleet.AppSocket + `")
        s.sendall(b"GET /health/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
        d = b""
        while True:
            c = s.recv(4096)
            if not c:
                break
            d += c
        s.close()
        if d.split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"]:
            sys.exit(0)
    except (OSError, IndexError):
        pass
    time.sleep(0.1)
sys.exit("no 200 from /health/ after 100 tries")`

// staffrota is the staffrota outage hardening: examples/staffrota/harden.hcl
// against bench/ansible/harden.yml, one unit file and a restarted gunicorn.
type staffrota struct {
	// original is the pre-hardening unit, as the fleet booted it;
	// hardened the unit both tools must leave.
	original, hardened []byte
}

func (*staffrota) name() string { return "staffrota" }

func (*staffrota) tools() []string { return allTools }

func (*staffrota) tendPlaybook() string { return "examples/staffrota/harden.hcl" }

func (*staffrota) ansiblePlaybook() string { return "harden.yml" }

func (*staffrota) tendVars(tool string) []string {
	if tool == ToolTendNoSettle {
		return []string{"--var", "settle=0s"}
	}
	return nil
}

// init renders the hardened unit from the Ansible template and reads the
// original unit from the first host.
func (sc *staffrota) init(ctx context.Context, b *Bench) error {
	tmpl, err := os.ReadFile(filepath.Join(b.Setup.AnsibleDir, "templates", "staffrota.service.j2"))
	if err != nil {
		return err
	}
	// The template's only variables; the inventory sets workers = 2 like
	// tend's, and the playbook app_dir like harden.hcl's default.
	sc.hardened = []byte(strings.NewReplacer("{{ workers }}", "2", "{{ app_dir }}", "/home/staff-rota-system").Replace(string(tmpl)))
	if strings.Contains(string(sc.hardened), "{{") {
		return errors.New("templates/staffrota.service.j2 uses a variable bench does not know")
	}
	orig, err := b.Setup.Fleet.Hosts[0].SSH(ctx, "root", "cat "+unitPath)
	if err != nil {
		return fmt.Errorf("reading the original unit: %w", err)
	}
	sc.original = []byte(orig)
	if string(sc.original) == string(sc.hardened) {
		return errors.New("the fleet's unit is already the hardened one: nothing to converge")
	}
	return nil
}

func (*staffrota) stateScript() string {
	return fileState("unit", unitPath) + `
echo "active $(systemctl is-active staffrota.service || true)"
echo "marker $(systemctl show -p InvocationID --value staffrota.service)"`
}

func (sc *staffrota) pristine(int) map[string]string {
	return map[string]string{"unit": fileValue("root:root", "644", sc.original)}
}

func (sc *staffrota) want(int, string) map[string]string {
	return map[string]string{"unit": fileValue("root:root", "644", sc.hardened)}
}

// resetScript writes the original unit over the hardened one, reloads
// systemd, kills the running gunicorn outright, clears the unit's failed
// state and start-rate counter (every round restarts the service twice,
// which a unit with a start limit such as the report's 3 starts in 60 s
// would soon refuse), starts the service again and waits, bounded, until
// /health/ answers 200.
//
// The kill is deliberate: with Type=notify, gunicorn 20 reports ready
// before its workers have booted, and a worker that is sent SIGTERM while
// still booting ignores it, so a graceful stop shortly after a start can
// hang for the whole graceful timeout (30 s). The reset is not timed; the
// health wait (the original unit runs one worker, which must answer) makes
// sure the tool's own restart never meets a booting worker.
func (sc *staffrota) resetScript(int) string {
	return fmt.Sprintf(`set -e
u=%s
echo %s | base64 -d > "$u.bench-reset"
chown root:root "$u.bench-reset"
chmod 0644 "$u.bench-reset"
mv -f "$u.bench-reset" "$u"
systemctl daemon-reload
systemctl kill --signal=SIGKILL staffrota.service 2>/dev/null || true
systemctl reset-failed staffrota.service 2>/dev/null || true
systemctl restart staffrota.service
python3 -c '%s'
set +e`, unitPath, base64.StdEncoding.EncodeToString(sc.original), healthScript)
}

// noopReference reads the unit.
func (sc *staffrota) noopReference(int, HostState) (string, string) {
	return "cat " + unitPath, string(sc.hardened)
}

// coldReference writes the hardened unit (through a temporary file and a
// rename), runs daemon-reload and restarts the service (which waits for
// gunicorn's READY). It reads no state first and runs no health check.
func (sc *staffrota) coldReference(int) string {
	return fmt.Sprintf("echo %s | base64 -d > %s.ref && chmod 0644 %[2]s.ref && mv -f %[2]s.ref %[2]s && systemctl daemon-reload && systemctl restart staffrota.service",
		base64.StdEncoding.EncodeToString(sc.hardened), unitPath)
}

func (*staffrota) ratios(noop, cold map[string]*Series) []Ratio { return ratios(noop, cold) }

func (*staffrota) section(r *Report) string { return r.Markdown() }
