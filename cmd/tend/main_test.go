package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tend-sh/tend/executor/sshtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sshHost is an in-process SSH server that tend reaches like any host: an
// inventory, a known_hosts file and an identity file.
type sshHost struct {
	srv       *sshtest.Server
	dir       string // the host's "file system" for the playbook (a temp dir)
	inventory string
	socket    string // unix socket of a tiny health endpoint
	healthy   *atomic.Bool
}

func newSSHHost(t *testing.T) *sshHost {
	t.Helper()
	signer, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	srv := sshtest.New(t, sshtest.Options{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	ctl := t.TempDir()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(ctl, "id_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(ctl, "known_hosts")
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(ctl, "inventory.hcl")
	writeTestFile(t, inv, fmt.Sprintf(`
defaults {
  user             = "tester"
  identity_file    = %q
  known_hosts_file = %q
  connect_timeout  = 5
  # The in-process host is this machine: a state directory of its own.
  state_dir        = %q
}
group "web" {
  vars = { workers = 2 }
  host "web1" {
    address = "127.0.0.1"
    port    = %d
  }
}
`, key, kh, filepath.Join(ctl, "state"), srv.Port()))

	h := &sshHost{srv: srv, dir: t.TempDir(), inventory: inv, healthy: new(atomic.Bool)}
	h.healthy.Store(true)
	// Unix socket paths are limited to 108 bytes: keep it short.
	sockDir, err := os.MkdirTemp("", "tend-sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	h.socket = filepath.Join(sockDir, "app.sock")
	ln, err := net.Listen("unix", h.socket)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !h.healthy.Load() {
			w.WriteHeader(503)
			fmt.Fprint(w, `{"status": "error", "checks": {"database": "error: down"}}`)
			return
		}
		fmt.Fprint(w, `{"status": "ok", "checks": {"database": "ok"}}`)
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return h
}

func writeTestFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// playbook writes the test playbook: a directory, a file that notifies a
// handler, a guarded command and a health check through the unix socket.
func (h *sshHost) playbook(t *testing.T) string {
	t.Helper()
	return writeTestFile(t, filepath.Join(t.TempDir(), "site.hcl"), fmt.Sprintf(`
variable "root" { default = %q }
variable "sock" { default = %q }

play "site" {
  hosts = ["web"]

  directory "conf" {
    path = "${var.root}/conf"
    mode = "0750"
  }
  file "app.conf" {
    path    = "${var.root}/conf/app.conf"
    content = "workers = ${host.vars.workers}\ntimeout = 60\n"
    mode    = "0640"
    notify  = ["reload"]
  }
  command "init" {
    run     = "echo initialised > ${var.root}/init.done"
    creates = "${var.root}/init.done"
  }
  health_check "app" {
    unix_socket   = var.sock
    path          = "/health/"
    expect_status = 200
    expect_json   = { status = "ok" }
    retries       = 2
    delay         = "50ms"
  }
  handler "reload" {
    command "reloaded" { run = "date >> ${var.root}/reloaded" }
  }
}
`, h.dir, h.socket))
}

type cli struct {
	code           int
	stdout, stderr string
}

func tend(t *testing.T, args ...string) cli {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := runCLI(ctx, args, &out, &errOut)
	return cli{code, out.String(), errOut.String()}
}

func (c cli) want(t *testing.T, code int) {
	t.Helper()
	if c.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", c.code, code, c.stdout, c.stderr)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// TestPlanApplyOverSSH drives plan, apply and a no-op apply through a real
// SSH connection (in-process server) and counts what the no-op costs.
func TestPlanApplyOverSSH(t *testing.T) {
	h := newSSHHost(t)
	pb := h.playbook(t)
	t.Setenv("NO_COLOR", "1")

	plan := tend(t, "plan", pb, "-i", h.inventory)
	plan.want(t, ExitChanges)
	if _, err := os.Stat(filepath.Join(h.dir, "conf")); !os.IsNotExist(err) {
		t.Fatalf("plan created something: %v", err)
	}
	if entries, _ := os.ReadDir(h.dir); len(entries) != 0 {
		t.Fatalf("plan left files behind: %v", entries)
	}
	norm := strings.NewReplacer(h.dir, "$ROOT", h.socket, "$SOCK").Replace(plan.stdout)
	golden(t, "plan_ssh.golden", norm)

	apply := tend(t, "apply", pb, "-i", h.inventory)
	apply.want(t, ExitOK)
	got, err := os.ReadFile(filepath.Join(h.dir, "conf", "app.conf"))
	if err != nil || string(got) != "workers = 2\ntimeout = 60\n" {
		t.Fatalf("app.conf = %q, %v", got, err)
	}
	if fi, _ := os.Stat(filepath.Join(h.dir, "conf", "app.conf")); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	reloaded, _ := os.ReadFile(filepath.Join(h.dir, "reloaded"))
	if strings.Count(string(reloaded), "\n") != 1 {
		t.Errorf("handler ran %d times, want once", strings.Count(string(reloaded), "\n"))
	}

	// A second apply: nothing changes, the handler does not run, and the
	// whole host costs one command (the state batch) and one socket dial.
	before := h.srv.Stats()
	again := tend(t, "apply", pb, "-i", h.inventory, "--json")
	again.want(t, ExitOK)
	after := h.srv.Stats()
	if execs := after.Execs - before.Execs; execs != 1 {
		t.Errorf("no-op apply ran %d commands, want 1 (one batched state read): %v", execs, h.srv.Commands()[before.Execs:])
	}
	if dials := after.StreamLocals - before.StreamLocals; dials != 1 {
		t.Errorf("no-op apply dialled the socket %d times, want 1", dials)
	}
	if conns := after.Connections - before.Connections; conns != 1 {
		t.Errorf("no-op apply opened %d connections, want 1", conns)
	}
	var last map[string]any
	for _, line := range strings.Split(strings.TrimSpace(again.stdout), "\n") {
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
	}
	totals := last["totals"].(map[string]any)
	if totals["changed"].(float64) != 0 || totals["ok"].(float64) != 4 {
		t.Errorf("no-op totals: %v", totals)
	}
	if reloaded2, _ := os.ReadFile(filepath.Join(h.dir, "reloaded")); !bytes.Equal(reloaded, reloaded2) {
		t.Error("the handler ran on a no-op apply")
	}

	planAgain := tend(t, "plan", pb, "-i", h.inventory)
	planAgain.want(t, ExitOK)
	if !strings.Contains(planAgain.stdout, "No changes: 1 host in sync.") {
		t.Errorf("converged plan:\n%s", planAgain.stdout)
	}

	// The app turns unhealthy: the host fails, exit code says so.
	h.healthy.Store(false)
	sick := tend(t, "apply", pb, "-i", h.inventory)
	sick.want(t, ExitFailed)
	if !strings.Contains(sick.stdout, "503") {
		t.Errorf("the failure should say what the health check got:\n%s", sick.stdout)
	}
}

// TestInvalidInputMakesNoConnection: every kind of bad input ends with exit
// 5 and a diagnostic, and the host never sees a connection.
func TestInvalidInputMakesNoConnection(t *testing.T) {
	h := newSSHHost(t)
	dir := t.TempDir()
	cases := []struct {
		name, playbook, want string
		args                 []string
	}{
		{"syntax", "play \"p\" {\n  hosts = [\"web\"\n}\n", "site.hcl:", nil},
		{"unknown module", "play \"p\" {\n  hosts = [\"web\"]\n  fiel \"x\" { content = \"a\" }\n}\n", "site.hcl:3:3", nil},
		{"bad bind", "play \"p\" {\n  hosts = [\"web\"]\n  gunicorn_service \"a\" {\n    gunicorn = \"/g\"\n    app = \"m:a\"\n    bind = \"nowhere\"\n  }\n}\n", "site.hcl:6", nil},
		{"workers zero", "play \"p\" {\n  hosts = [\"web\"]\n  gunicorn_service \"a\" {\n    gunicorn = \"/g\"\n    app = \"m:a\"\n    bind = \"unix:/s.sock\"\n    workers = 0\n  }\n}\n", "site.hcl:7", nil},
		{"unknown host var", "play \"p\" {\n  hosts = [\"web\"]\n  file \"/x\" { content = host.vars.nope }\n}\n", "site.hcl:3", nil},
		{"unknown var flag", "play \"p\" {\n  hosts = [\"web\"]\n}\n", "nope", []string{"--var", "nope=1"}},
		{"bad limit", "play \"p\" {\n  hosts = [\"web\"]\n  file \"/x\" { content = \"a\" }\n}\n", "nosuch", []string{"--limit", "nosuch"}},
		{"bad forks", "play \"p\" {\n  hosts = [\"web\"]\n}\n", "forks", []string{"--forks", "0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pb := writeTestFile(t, filepath.Join(dir, "site.hcl"), tc.playbook)
			args := append([]string{"plan", pb, "-i", h.inventory, "--no-color"}, tc.args...)
			r := tend(t, args...)
			r.want(t, ExitInvalid)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, r.stderr)
			}
		})
	}
	if c := h.srv.Stats().Connections; c != 0 {
		t.Fatalf("invalid input made %d connections", c)
	}
}

// TestUnknownHostKeyIsUnreachable: a host whose key is not known is refused
// (exit 4) and runs nothing; --accept-new-host-keys records it.
func TestUnknownHostKeyIsUnreachable(t *testing.T) {
	h := newSSHHost(t)
	pb := h.playbook(t)
	inv, _ := os.ReadFile(h.inventory)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	writeTestFile(t, empty, "")
	lines := strings.Split(string(inv), "\n")
	for i, l := range lines {
		if strings.Contains(l, "known_hosts_file") {
			lines[i] = fmt.Sprintf("  known_hosts_file = %q", empty)
		}
	}
	writeTestFile(t, h.inventory, strings.Join(lines, "\n"))
	r := tend(t, "plan", pb, "-i", h.inventory, "--no-color")
	r.want(t, ExitUnreachable)
	if !strings.Contains(r.stdout, "UNREACHABLE") || !strings.Contains(r.stdout, "accept-new-host-keys") {
		t.Errorf("refusal should explain itself:\n%s", r.stdout)
	}
	if n := h.srv.Stats().Execs; n != 0 {
		t.Fatalf("a refused host ran %d commands", n)
	}
	ok := tend(t, "plan", pb, "-i", h.inventory, "--no-color", "--accept-new-host-keys")
	ok.want(t, ExitChanges)
	if kh, _ := os.ReadFile(empty); !strings.Contains(string(kh), "ssh-ed25519 ") {
		t.Errorf("known_hosts not appended: %q", kh)
	}
}

func TestInventoryCommand(t *testing.T) {
	h := newSSHHost(t)
	r := tend(t, "inventory", "-i", h.inventory, "--json")
	r.want(t, ExitOK)
	var out struct {
		Hosts []struct {
			Name, Address string
			Port          int
			Groups        []string
			Vars          map[string]any
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if len(out.Hosts) != 1 || out.Hosts[0].Name != "web1" || out.Hosts[0].Vars["workers"].(float64) != 2 || out.Hosts[0].Groups[0] != "web" {
		t.Errorf("inventory: %+v", out)
	}
	text := tend(t, "inventory", "-i", h.inventory)
	text.want(t, ExitOK)
	if !strings.Contains(text.stdout, "var workers = 2") {
		t.Errorf("text inventory:\n%s", text.stdout)
	}
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	r := tend(t, "--help")
	r.want(t, ExitOK)
	for _, want := range []string{"Exit codes:", "2  plan: changes pending", "5  invalid input"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}
