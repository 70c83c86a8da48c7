package playbooks

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/inventory"
)

const testInventory = `
defaults {
  become = true
}
group "web" {
  vars = { workers = 2 }
  host "web1" {}
  host "web2" {
    vars = { workers = 4 }
  }
}
host "db1" {}
`

func testInv(t *testing.T) *inventory.Inventory {
	t.Helper()
	inv, diags := inventory.Parse([]byte(testInventory), "inv.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return inv
}

// writeFiles writes files (name → content) into a fresh directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		fn := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fn, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t *testing.T, filenames []string, vars map[string]string) *Playbook {
	t.Helper()
	pb, diags := Load(filenames, vars)
	if diags.HasErrors() {
		t.Fatalf("Load: %s", diagsString(diags))
	}
	return pb
}

func diagsString(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("\n  " + d.Error())
		if d.Detail != "" {
			b.WriteString(" — " + d.Detail)
		}
	}
	return b.String()
}

const mainPlaybook = `variable "app_dir" {
  default = "/srv/app"
}
variable "replicas" {
  type    = number
  default = 1
}
variable "tags" {
  type    = list(string)
  default = ["a"]
}
variable "token" {
  type      = string
  default   = "s3cret"
  sensitive = true
}
locals {
  conf = "${local.base}/app.conf"
  base = "${var.app_dir}/etc"
  who  = "${host.name}-${host.vars.workers}"
}

play "deploy" {
  hosts  = ["web"]
  become = false

  tendtest_echo "config" {
    path    = local.conf
    message = templatefile("tpl/app.tpl", { workers = host.vars.workers, name = host.name })
    workers = host.vars.workers * var.replicas
    tags    = concat(var.tags, host.groups)
    notify  = ["restart"]
    name    = "config for ${host.name}"
  }
  tendtest_echo "motd" {
    message = file("motd.txt")
    when    = host.vars.workers > 2
    name    = "motd"
  }
  tendtest_echo "users" {
    for_each = { bob = "dev", alice = "admin" }
    message  = "${each.key} is ${each.value}"
    secret   = var.token
    env      = { ROLE = each.value }
  }
  tendtest_echo "dirs" {
    for_each = toset(["logs", "cache"])
    path     = "${var.app_dir}/${each.value}"
    message  = upper(each.key)
    when     = each.key != "cache" || host.name == "web2"
  }
  handler "restart" {
    tendtest_echo "svc" {
      message = "restart ${local.who}"
    }
  }
}
`

var mainFiles = map[string]string{
	"main.hcl":    mainPlaybook,
	"tpl/app.tpl": "workers=${workers} on ${upper(name)}",
	"motd.txt":    "hello\n",
}

type taskWant struct {
	id, name, path, message string
	skip                    bool
	workers                 int
	notify                  []string
}

func echoOf(t *testing.T, task *Task) *echo {
	t.Helper()
	if task.Module == nil {
		t.Fatalf("%s: no module", task.ID)
	}
	e, ok := task.Module.(*echo)
	if !ok {
		t.Fatalf("%s: module is %T", task.ID, task.Module)
	}
	return e
}

func TestInstantiate(t *testing.T) {
	dir := writeFiles(t, mainFiles)
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
	inv := testInv(t)
	if len(pb.Plays) != 1 {
		t.Fatalf("plays = %d", len(pb.Plays))
	}
	play := pb.Plays[0]
	if d := pb.Validate(inv); len(d) != 0 {
		t.Fatalf("Validate: %s", diagsString(d))
	}

	tests := []struct {
		host  string
		tasks []taskWant
	}{
		{"web1", []taskWant{
			{id: "tendtest_echo.config", name: "config for web1", path: "/srv/app/etc/app.conf", message: "workers=2 on WEB1", workers: 2, notify: []string{"restart"}},
			{id: "tendtest_echo.motd", name: "motd", skip: true},
			{id: `tendtest_echo.users["alice"]`, path: "users", message: "alice is admin"},
			{id: `tendtest_echo.users["bob"]`, path: "users", message: "bob is dev"},
			{id: `tendtest_echo.dirs["cache"]`, skip: true},
			{id: `tendtest_echo.dirs["logs"]`, path: "/srv/app/logs", message: "LOGS"},
		}},
		{"web2", []taskWant{
			{id: "tendtest_echo.config", name: "config for web2", path: "/srv/app/etc/app.conf", message: "workers=4 on WEB2", workers: 4, notify: []string{"restart"}},
			{id: "tendtest_echo.motd", name: "motd", path: "motd", message: "hello\n"},
			{id: `tendtest_echo.users["alice"]`, path: "users", message: "alice is admin"},
			{id: `tendtest_echo.users["bob"]`, path: "users", message: "bob is dev"},
			{id: `tendtest_echo.dirs["cache"]`, path: "/srv/app/cache", message: "CACHE"},
			{id: `tendtest_echo.dirs["logs"]`, path: "/srv/app/logs", message: "LOGS"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			host := inv.Host(tt.host)
			plan, diags := pb.Instantiate(play, host)
			if diags.HasErrors() {
				t.Fatalf("Instantiate: %s", diagsString(diags))
			}
			if plan.Become {
				t.Error("play become = false must override the inventory's become = true")
			}
			if len(plan.Tasks) != len(tt.tasks) {
				var ids []string
				for _, task := range plan.Tasks {
					ids = append(ids, task.ID)
				}
				t.Fatalf("tasks = %v, want %d", ids, len(tt.tasks))
			}
			for i, want := range tt.tasks {
				got := plan.Tasks[i]
				if got.ID != want.id || got.Skip != want.skip || got.Name != want.name {
					t.Errorf("task %d = %s skip=%v name=%q, want %s skip=%v name=%q", i, got.ID, got.Skip, got.Name, want.id, want.skip, want.name)
					continue
				}
				if !reflect.DeepEqual(got.Notify, want.notify) {
					t.Errorf("%s: notify = %v, want %v", got.ID, got.Notify, want.notify)
				}
				if want.skip {
					if got.Module != nil {
						t.Errorf("%s: a skipped task must not be decoded", got.ID)
					}
					continue
				}
				e := echoOf(t, got)
				if e.path != want.path || e.cfg.Message != want.message {
					t.Errorf("%s: path=%q message=%q, want %q %q", got.ID, e.path, e.cfg.Message, want.path, want.message)
				}
				if want.workers != 0 && (e.cfg.Workers == nil || *e.cfg.Workers != want.workers) {
					t.Errorf("%s: workers = %v, want %d", got.ID, e.cfg.Workers, want.workers)
				}
			}
			cfg := echoOf(t, plan.Tasks[0]).cfg
			if want := []string{"a", "web"}; !reflect.DeepEqual(cfg.Tags, want) {
				t.Errorf("tags = %v, want %v", cfg.Tags, want)
			}
			users := echoOf(t, plan.Tasks[2])
			if users.cfg.Secret == nil || *users.cfg.Secret != "s3cret" || !users.secretMarked {
				t.Errorf("secret = %v marked=%v, want the value marked Sensitive", users.cfg.Secret, users.secretMarked)
			}
			if plan.Tasks[2].EachKey != "alice" || users.cfg.Env["ROLE"] != "admin" {
				t.Errorf("each.value not seen: key %q env %v", plan.Tasks[2].EachKey, users.cfg.Env)
			}
			h := plan.Handlers["restart"]
			if h == nil || h.ID != "tendtest_echo.svc" || h.Name != "restart" {
				t.Fatalf("handler = %+v", h)
			}
			if got, want := echoOf(t, h).cfg.Message, "restart "+tt.host+"-"+map[string]string{"web1": "2", "web2": "4"}[tt.host]; got != want {
				t.Errorf("handler message = %q, want %q", got, want)
			}
		})
	}
}

// TestInstantiateConcurrently runs Instantiate for many hosts at once (run
// it with -race): a Playbook must be safe for concurrent use.
func TestInstantiateConcurrently(t *testing.T) {
	dir := writeFiles(t, mainFiles)
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
	inv := testInv(t)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 8; i++ {
		host := inv.Host([]string{"web1", "web2"}[i%2])
		wg.Add(1)
		go func() {
			defer wg.Done()
			plan, diags := pb.Instantiate(pb.Plays[0], host)
			if diags.HasErrors() || len(plan.Tasks) != 6 {
				errs <- diagsString(diags)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestVarOverrides(t *testing.T) {
	dir := writeFiles(t, mainFiles)
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, map[string]string{
		"app_dir":  "/opt/x",
		"replicas": "3",
		"tags":     `["x", "y"]`,
	})
	for name, want := range map[string]cty.Value{
		"app_dir":  cty.StringVal("/opt/x"),
		"replicas": cty.NumberIntVal(3),
		"tags":     cty.ListVal([]cty.Value{cty.StringVal("x"), cty.StringVal("y")}),
	} {
		if got := pb.Variables[name].Value; !got.RawEquals(want) {
			t.Errorf("var.%s = %#v, want %#v", name, got, want)
		}
	}
	if d := pb.Variables["app_dir"].Default; !d.RawEquals(cty.StringVal("/srv/app")) {
		t.Errorf("default = %#v, want it kept", d)
	}
	plan, diags := pb.Instantiate(pb.Plays[0], testInv(t).Host("web1"))
	if diags.HasErrors() {
		t.Fatal(diagsString(diags))
	}
	e := echoOf(t, plan.Tasks[0])
	if e.path != "/opt/x/etc/app.conf" || *e.cfg.Workers != 6 || !reflect.DeepEqual(e.cfg.Tags, []string{"x", "y", "web"}) {
		t.Errorf("overrides not applied: path %q workers %d tags %v", e.path, *e.cfg.Workers, e.cfg.Tags)
	}
}

func TestSensitiveVariableMarked(t *testing.T) {
	dir := writeFiles(t, mainFiles)
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, map[string]string{"token": "other"})
	v := pb.Variables["token"]
	if !v.Sensitive || !v.Value.HasMark(Sensitive) {
		t.Errorf("token = %#v, want marked Sensitive", v.Value)
	}
	if pb.Variables["app_dir"].Value.IsMarked() {
		t.Error("app_dir must not be marked")
	}
}

// TestLoadDirectory loads a playbook split over several files, with a
// subdirectory file whose file() call is relative to its own directory.
func TestLoadDirectory(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a_vars.hcl":     "variable \"greeting\" {\n  default = \"hi\"\n}\n",
		"b_play.hcl":     "play \"one\" {\n  hosts = [\"db1\"]\n  tendtest_echo \"x\" {\n    message = \"${var.greeting} ${local.l}\"\n  }\n}\n",
		"c_locals.hcl":   "locals {\n  l = upper(host.name)\n}\n",
		"notes.txt":      "not a playbook",
		"sub/extra.hcl":  "play \"two\" {\n  hosts = \"db1\"\n  tendtest_echo \"y\" {\n    message = file(\"data.txt\")\n  }\n}\n",
		"sub/data.txt":   "from sub",
		"data.txt":       "from top",
		"sub/ignored.md": "x",
	})
	pb := mustLoad(t, []string{dir, filepath.Join(dir, "sub", "extra.hcl")}, nil)
	if pb.BaseDir != filepath.Clean(dir) {
		t.Errorf("BaseDir = %q, want %q", pb.BaseDir, dir)
	}
	var names []string
	for _, p := range pb.Plays {
		names = append(names, p.Name)
	}
	if !reflect.DeepEqual(names, []string{"one", "two"}) {
		t.Fatalf("plays = %v", names)
	}
	host := testInv(t).Host("db1")
	for _, want := range []struct{ play, msg string }{{"one", "hi DB1"}, {"two", "from sub"}} {
		var play *Play
		for _, p := range pb.Plays {
			if p.Name == want.play {
				play = p
			}
		}
		plan, diags := pb.Instantiate(play, host)
		if diags.HasErrors() {
			t.Fatal(diagsString(diags))
		}
		if got := echoOf(t, plan.Tasks[0]).cfg.Message; got != want.msg {
			t.Errorf("play %s: message = %q, want %q", want.play, got, want.msg)
		}
	}
	if len(pb.Plays[1].HostPatterns) != 1 || pb.Plays[1].HostPatterns[0] != "db1" {
		t.Errorf("hosts = \"db1\" (a single string) = %v", pb.Plays[1].HostPatterns)
	}
}

func TestLoadMissing(t *testing.T) {
	pb, diags := Load([]string{filepath.Join(t.TempDir(), "nope.hcl")}, nil)
	if pb == nil || !diags.HasErrors() || diags[0].Summary != "Failed to read playbook" {
		t.Errorf("Load(missing) = %v", diagsString(diags))
	}
	_, diags = Load([]string{t.TempDir()}, nil)
	if !diags.HasErrors() || diags[0].Summary != "Empty playbook directory" {
		t.Errorf("Load(empty dir) = %v", diagsString(diags))
	}
}

const (
	stageLoad        = "load"
	stageInstantiate = "instantiate"
	stageValidate    = "validate"
)

// TestBadPlaybooks checks each mistake's diagnostic: summary, severity and
// file:line:col.
func TestBadPlaybooks(t *testing.T) {
	tests := []struct {
		name    string
		src     string            // main.hcl
		extra   map[string]string // more files, loaded after main.hcl when .hcl
		vars    map[string]string
		stage   string
		summary string
		file    string // "" means main.hcl
		line    int
		col     int
		detail  string
		warning bool
	}{
		{name: "syntax error", stage: stageLoad, summary: "Invalid expression", line: 4, col: 15, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = = "x"
  }
}
`},
		{name: "unclosed heredoc", stage: stageLoad, summary: "Unterminated template string", line: 9, col: 15, detail: "<<-EOT opened here is never closed: it ends with a line that holds only EOT", src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = <<EOT
hi
EOT
  }
  tendtest_echo "b" {
    message = <<-EOT
      there
    EOF
  }
}
`},
		{name: "unknown module attribute", stage: stageInstantiate, summary: "Unsupported argument", line: 5, col: 5, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = "hi"
    colour  = 1
  }
}
`},
		{name: "unknown play attribute", stage: stageLoad, summary: "Unsupported argument", line: 3, col: 3, detail: `Did you mean "hosts"?`, src: `play "p" {
  hosts = ["web"]
  hostss = 1
}
`},
		{name: "unknown top-level block", stage: stageLoad, summary: "Unsupported block type", line: 1, col: 1, detail: `Did you mean "play"?`, src: `plya "p" {
}
`},
		{name: "default of wrong type", stage: stageLoad, summary: "Invalid default value for variable", line: 3, col: 13, detail: "a number is required", src: `variable "workers" {
  type    = number
  default = "two"
}
play "p" {
  hosts = ["web"]
}
`},
		{name: "module attribute of wrong type", stage: stageInstantiate, summary: "Unsuitable value type", line: 5, col: 16, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = "hi"
    workers = "two"
  }
}
`},
		{name: "undeclared variable", stage: stageLoad, summary: "Reference to undeclared input variable", line: 5, col: 15, detail: `Did you mean "app_dir"?`, src: `variable "app_dir" { default = "/x" }
play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = var.app_dri
  }
}
`},
		{name: "unknown host var", stage: stageInstantiate, summary: "Unknown host variable", line: 4, col: 18, detail: `The host has no variable "nope" (it has workers)`, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = "${host.vars.nope}"
  }
}
`},
		{name: "unknown host var by index", stage: stageInstantiate, summary: "Unknown host variable", line: 4, col: 15, detail: `"wokers"`, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = host.vars["wokers"]
  }
}
`},
		{name: "unknown host var in a local", stage: stageInstantiate, summary: "Unknown host variable", line: 2, col: 7, src: `locals {
  x = host.vars.port
}
play "p" {
  hosts = ["web"]
  tendtest_echo "a" { message = local.x }
}
`},
		{name: "when not bool", stage: stageInstantiate, summary: "Invalid when condition", line: 5, col: 15, detail: "not string", src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = "hi"
    when    = "yes"
  }
}
`},
		{name: "when a number", stage: stageInstantiate, summary: "Invalid when condition", line: 5, col: 15, detail: "not number", src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = "hi"
    when    = host.vars.workers
  }
}
`},
		{name: "notify unknown handler", stage: stageLoad, summary: "Unknown handler", line: 5, col: 16, detail: `Did you mean "restart"?`, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = "hi"
    notify  = ["restrat"]
  }
  handler "restart" {
    tendtest_echo "svc" { message = "x" }
  }
}
`},
		{name: "notify not constant", stage: stageLoad, summary: "Invalid notify", line: 5, col: 16, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = "hi"
    notify  = [host.name]
  }
}
`},
		{name: "unknown block type", stage: stageLoad, summary: "Unsupported block type", line: 3, col: 3, detail: `Did you mean "tendtest_echo"?`, src: `play "p" {
  hosts = ["web"]
  tendtest_ecno "a" {
    message = "hi"
  }
}
`},
		{name: "unknown block type lists kinds", stage: stageLoad, summary: "Unsupported block type", line: 3, col: 3, detail: "Module kinds: ", src: `play "p" {
  hosts = ["web"]
  nonsense "a" {}
}
`},
		{name: "task without label", stage: stageLoad, summary: "Invalid task label", line: 3, col: 3, src: `play "p" {
  hosts = ["web"]
  tendtest_echo {
    message = "hi"
  }
}
`},
		{name: "locals cycle", stage: stageLoad, summary: "Cycle in local values", line: 2, col: 7, detail: "local.a → local.b → local.a", src: `locals {
  a = local.b
  b = "${local.a}x"
}
play "p" {
  hosts = ["web"]
}
`},
		{name: "undeclared local", stage: stageLoad, summary: "Reference to undeclared local value", line: 4, col: 15, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = local.nope
  }
}
`},
		{name: "duplicate local", stage: stageLoad, summary: "Duplicate local value", line: 5, col: 3, src: `locals {
  a = 1
}
locals {
  a = 2
}
play "p" {
  hosts = ["web"]
}
`},
		{name: "templatefile missing file", stage: stageInstantiate, summary: "Error in function call", line: 4, col: 15, detail: "no file exists", src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = templatefile("nope.tpl", {})
  }
}
`},
		{name: "templatefile missing template var", stage: stageInstantiate, summary: "Error in function call", line: 4, col: 15, detail: `vars has no key "port"`,
			extra: map[string]string{"t.tpl": "listen ${port}"}, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = templatefile("t.tpl", { prot = 1 })
  }
}
`},
		{name: "unknown function", stage: stageInstantiate, summary: "Call to unknown function", line: 4, col: 15, detail: `Did you mean "upper"?`, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = uper("x")
  }
}
`},
		{name: "var override of undeclared variable", stage: stageLoad, vars: map[string]string{"nope": "1"},
			summary: "Value for undeclared variable", file: "<--var nope>", line: 1, col: 1, src: `play "p" {
  hosts = ["web"]
}
`},
		{name: "var override not a number", stage: stageLoad, vars: map[string]string{"workers": "two"},
			summary: "Invalid value for variable", file: "<--var workers>", line: 1, col: 1, detail: `the variable is a number, and "two" is not one`, src: `variable "workers" {
  type    = number
  default = 2
}
play "p" {
  hosts = ["web"]
}
`},
		{name: "var override wrong element type", stage: stageLoad, vars: map[string]string{"tags": `["a", {}]`},
			summary: "Invalid value for variable", file: "<--var tags>", line: 1, col: 1, detail: "list(string)", src: `variable "tags" {
  type = list(string)
}
play "p" {
  hosts = ["web"]
}
`},
		{name: "var override syntax error", stage: stageLoad, vars: map[string]string{"tags": `["a",`},
			summary: "Missing expression", file: "<--var tags>", line: 1, col: 6, src: `variable "tags" {
  type = list(string)
}
play "p" {
  hosts = ["web"]
}
`},
		{name: "sensitive override not echoed", stage: stageLoad, vars: map[string]string{"pin": "hunter2"},
			summary: "Invalid value for variable", file: "<--var pin>", line: 1, col: 1, detail: "(sensitive)", src: `variable "pin" {
  type      = number
  sensitive = true
}
play "p" {
  hosts = ["web"]
}
`},
		{name: "required variable without value", stage: stageLoad, summary: "No value for required variable", line: 1, col: 1, detail: "--var x=VALUE", src: `variable "x" {}
play "p" {
  hosts = ["web"]
}
`},
		{name: "invalid type", stage: stageLoad, summary: "Invalid type specification", line: 2, col: 10, src: `variable "x" {
  type = strin
}
play "p" {
  hosts = ["web"]
}
`},
		{name: "duplicate variable across files", stage: stageLoad, summary: "Duplicate variable", file: "z.hcl", line: 1, col: 1,
			extra: map[string]string{"z.hcl": `variable "x" { default = 2 }`}, src: `variable "x" { default = 1 }
play "p" {
  hosts = ["web"]
}
`},
		{name: "duplicate task", stage: stageLoad, summary: "Duplicate task", line: 4, col: 3, detail: "main.hcl:3,3", src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" { message = "1" }
  tendtest_echo "a" { message = "2" }
}
`},
		{name: "duplicate handler", stage: stageLoad, summary: "Duplicate handler", line: 6, col: 3, src: `play "p" {
  hosts = ["web"]
  handler "h" {
    tendtest_echo "a" { message = "1" }
  }
  handler "h" {
    tendtest_echo "b" { message = "2" }
  }
}
`},
		{name: "handler with two modules", stage: stageLoad, summary: "Invalid handler", line: 5, col: 5, src: `play "p" {
  hosts = ["web"]
  handler "h" {
    tendtest_echo "a" { message = "1" }
    tendtest_echo "b" { message = "2" }
  }
}
`},
		{name: "handler meta-argument", stage: stageLoad, summary: "Unsupported argument", line: 5, col: 7, detail: "meta-argument when", src: `play "p" {
  hosts = ["web"]
  handler "h" {
    tendtest_echo "a" {
      when    = true
      message = "1"
    }
  }
}
`},
		{name: "duplicate play", stage: stageLoad, summary: "Duplicate play", line: 4, col: 1, src: `play "p" {
  hosts = ["web"]
}
play "p" {
  hosts = ["db1"]
}
`},
		{name: "missing hosts", stage: stageLoad, summary: "Missing required argument", line: 1, col: 1, src: `play "p" {
}
`},
		{name: "hosts may not use host", stage: stageLoad, summary: "Invalid reference", line: 2, col: 12, src: `play "p" {
  hosts = [host.name]
}
`},
		{name: "each without for_each", stage: stageLoad, summary: `Reference to "each" in context without for_each`, line: 4, col: 15, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = each.key
  }
}
`},
		{name: "each inside for_each itself", stage: stageLoad, summary: `Reference to "each" in context without for_each`, line: 4, col: 23, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    for_each = toset([each.key])
    message  = "x"
  }
}
`},
		{name: "unknown host attribute", stage: stageLoad, summary: "Unsupported attribute", line: 4, col: 15, detail: `Did you mean "address"?`, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = host.adress
  }
}
`},
		{name: "unknown root variable", stage: stageLoad, summary: "Unknown variable", line: 4, col: 15, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = vars.x
  }
}
`},
		{name: "for_each over a list", stage: stageInstantiate, summary: "Invalid for_each argument", line: 4, col: 16, detail: "toset", src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    for_each = ["a", "b"]
    message  = each.key
  }
}
`},
		{name: "for_each sensitive", stage: stageInstantiate, summary: "Invalid for_each argument", line: 8, col: 16, detail: "sensitive", src: `variable "s" {
  default   = { a = 1 }
  sensitive = true
}
play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    for_each = var.s
    message  = each.key
  }
}
`},
		{name: "name from a sensitive value", stage: stageInstantiate, summary: "Sensitive task name", line: 9, col: 15, src: `variable "s" {
  default   = "pw"
  sensitive = true
}
play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = "x"
    name    = "task ${var.s}"
  }
}
`},
		{name: "module's own validation", stage: stageInstantiate, summary: "Invalid workers", line: 5, col: 15, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = "hi"
    workers = host.vars.workers - 2
  }
}
`},
		{name: "missing module attribute", stage: stageInstantiate, summary: "Missing required argument", line: 3, col: 21, src: `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    workers = 1
  }
}
`},
		{name: "hosts match nothing", stage: stageValidate, summary: "No hosts match", line: 2, col: 19, detail: `"wbe" matches no host or group`, src: `play "p" {
  hosts = ["db1", "wbe"]
}
`},
		{name: "handler never notified", stage: stageValidate, summary: "Handler never notified", warning: true, line: 3, col: 3, src: `play "p" {
  hosts = ["web"]
  handler "h" {
    tendtest_echo "a" { message = "1" }
  }
}
`},
		{name: "play selects no host", stage: stageValidate, summary: "Play selects no hosts", warning: true, line: 2, col: 12, src: `play "p" {
  hosts = ["web", "!web"]
}
`},
		{name: "no plays", stage: stageLoad, summary: "No plays", line: 1, col: 1, src: `variable "x" { default = 1 }
`},
	}
	inv := testInv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"main.hcl": tt.src}
			for k, v := range tt.extra {
				files[k] = v
			}
			dir := writeFiles(t, files)
			paths := []string{filepath.Join(dir, "main.hcl")}
			for k := range tt.extra {
				if strings.HasSuffix(k, ".hcl") {
					paths = append(paths, filepath.Join(dir, k))
				}
			}
			pb, diags := Load(paths, tt.vars)
			if pb == nil {
				t.Fatal("Load returned a nil playbook")
			}
			if tt.stage != stageLoad {
				if diags.HasErrors() {
					t.Fatalf("Load: %s", diagsString(diags))
				}
				switch tt.stage {
				case stageValidate:
					diags = pb.Validate(inv)
				case stageInstantiate:
					diags = nil
					for _, play := range pb.Plays {
						hosts, err := inv.Select(play.HostPatterns)
						if err != nil {
							t.Fatal(err)
						}
						_, d := pb.Instantiate(play, hosts[0])
						diags = append(diags, d...)
					}
				}
			}
			var d *hcl.Diagnostic
			for _, x := range diags {
				if x.Summary == tt.summary {
					d = x
					break
				}
			}
			if d == nil {
				t.Fatalf("no %q diagnostic; got: %s", tt.summary, diagsString(diags))
			}
			wantSev := hcl.DiagError
			if tt.warning {
				wantSev = hcl.DiagWarning
			}
			if d.Severity != wantSev {
				t.Errorf("severity = %v, want %v", d.Severity, wantSev)
			}
			if d.Subject == nil {
				t.Fatalf("diagnostic %q has no subject: %s", d.Summary, d.Detail)
			}
			wantFile := tt.file
			if wantFile == "" {
				wantFile = "main.hcl"
			}
			if got := filepath.Base(d.Subject.Filename); got != wantFile || d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
				t.Errorf("at %s:%d:%d, want %s:%d:%d (%s: %s)", got, d.Subject.Start.Line, d.Subject.Start.Column,
					wantFile, tt.line, tt.col, d.Summary, d.Detail)
			}
			if !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", d.Detail, tt.detail)
			}
			if tt.stage == stageInstantiate && DiagnosticHost(d) == "" {
				t.Errorf("diagnostic %q from Instantiate does not name its host", d.Summary)
			}
			if tt.name == "sensitive override not echoed" && strings.Contains(diagsString(diags), "hunter2") {
				t.Error("a sensitive value appears in a diagnostic")
			}
		})
	}
}

// TestLoadCollectsAllErrors checks that Load does not stop at the first
// problem.
func TestLoadCollectsAllErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `play "p" {
  hosts = ["web"]
  tendtest_ecno "a" {}
  tendtest_echo "b" {
    message = var.nope
    notify  = ["nope"]
  }
  bogus = 1
}
`})
	_, diags := Load([]string{filepath.Join(dir, "main.hcl")}, map[string]string{"x": "1"})
	want := []string{"Unsupported block type", "Reference to undeclared input variable", "Unknown handler", "Unsupported argument", "Value for undeclared variable"}
	for _, w := range want {
		found := false
		for _, d := range diags {
			found = found || d.Summary == w
		}
		if !found {
			t.Errorf("missing %q in %s", w, diagsString(diags))
		}
	}
}

// TestMetaArgumentsNotPassedToModule checks that the module body has no
// meta-arguments: the test module's gohcl decoder would reject them.
func TestMetaArgumentsNotPassedToModule(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `play "p" {
  hosts = ["web1"]
  tendtest_echo "a" {
    for_each = { k = "v" }
    when     = true
    name     = "n"
    notify   = ["h"]
    message  = each.value
  }
  handler "h" {
    tendtest_echo "b" { message = "x" }
  }
}
`})
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
	plan, diags := pb.Instantiate(pb.Plays[0], testInv(t).Host("web1"))
	if diags.HasErrors() {
		t.Fatal(diagsString(diags))
	}
	if len(plan.Tasks) != 1 || echoOf(t, plan.Tasks[0]).cfg.Message != "v" {
		t.Errorf("tasks = %+v", plan.Tasks)
	}
}

// TestLocalErrorReportedOnce: a local that fails for a host is reported
// once, not again by every local that uses it.
func TestLocalErrorReportedOnce(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `locals {
  port = host.vars.port
  url  = "http://${host.name}:${local.port}/"
  also = upper(local.url)
}
play "p" {
  hosts = ["web1"]
  tendtest_echo "a" { message = local.also }
}
`})
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
	plan, diags := pb.Instantiate(pb.Plays[0], testInv(t).Host("web1"))
	if len(diags) != 1 || diags[0].Summary != "Unknown host variable" || diags[0].Subject.Start.Line != 2 {
		t.Errorf("diagnostics = %s, want one Unknown host variable at line 2", diagsString(diags))
	}
	if len(plan.Tasks) != 0 {
		t.Errorf("tasks = %+v, want none instantiated", plan.Tasks)
	}
}

// TestInvalidDefaultIsOneError: a variable whose default is invalid has a
// default all the same: one error at the default, not also "No value for
// required variable" (which says it has none); so has one whose block
// holds a misspelt argument.
func TestInvalidDefaultIsOneError(t *testing.T) {
	for name, line := range map[string]string{
		"wrong type":    `default = "two"`,
		"failing value": `default = file("nope.txt")`,
		"misspelt":      `defualt = 2`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"main.hcl": `variable "workers" {
  type    = number
  ` + line + `
}
play "p" {
  hosts = ["web"]
  tendtest_echo "a" { message = "${var.workers}" }
}
`})
			_, diags := Load([]string{filepath.Join(dir, "main.hcl")}, nil)
			if len(diags) != 1 || diags[0].Subject == nil || diags[0].Subject.Start.Line != 3 {
				t.Errorf("diagnostics = %s, want one error at the default (line 3)", diagsString(diags))
			}
			// Given a value, the variable is fine.
			if _, diags := Load([]string{filepath.Join(dir, "main.hcl")}, map[string]string{"workers": "3"}); len(diags) != 1 {
				t.Errorf("with --var: %s, want the default's error only", diagsString(diags))
			}
		})
	}
}

// TestInvalidHandlerIsNotUnknown: notifying a handler that is declared but
// invalid is not a mistake of its own: the handler's error is the one
// reported, not "Unknown handler ... The play has no handlers".
func TestInvalidHandlerIsNotUnknown(t *testing.T) {
	for name, handler := range map[string]string{
		"unknown module kind": `tendtest_ecno "b" { message = "x" }`,
		"two module blocks":   "tendtest_echo \"b\" { message = \"x\" }\n    tendtest_echo \"c\" { message = \"y\" }",
		"no module block":     ``,
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"main.hcl": `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = "hi"
    notify  = ["h"]
  }
  handler "h" {
    ` + handler + `
  }
}
`})
			_, diags := Load([]string{filepath.Join(dir, "main.hcl")}, nil)
			if len(diags) != 1 || diags[0].Summary == "Unknown handler" {
				t.Errorf("diagnostics = %s, want the handler's error only", diagsString(diags))
			}
		})
	}
	// A handler that is not declared at all still is one.
	dir := writeFiles(t, map[string]string{"main.hcl": `play "p" {
  hosts = ["web"]
  tendtest_echo "a" {
    message = "hi"
    notify  = ["g"]
  }
  handler "h" {
    tendtest_ecno "b" { message = "x" }
  }
}
`})
	_, diags := Load([]string{filepath.Join(dir, "main.hcl")}, nil)
	if len(diags) != 2 || !strings.Contains(diagsString(diags), "Unknown handler") {
		t.Errorf("diagnostics = %s, want the unknown handler g and the invalid handler h", diagsString(diags))
	}
}

// TestMisspeltHostsIsOneError: a play with host = [...] gets "Did you
// mean hosts?", not also "Missing required argument"; a play without
// hosts at all still gets that.
func TestMisspeltHostsIsOneError(t *testing.T) {
	for src, want := range map[string]string{
		"play \"p\" {\n  host = [\"web\"]\n}\n":  `Did you mean "hosts"?`,
		"play \"p\" {\n  become = true\n}\n":     `needs hosts`,
		"play \"p\" {\n  mode = \"0644\"\n}\n":   `is not expected in a play`,
		"play \"p\" {\n  hostz = [\"web\"]\n}\n": `Did you mean "hosts"?`,
	} {
		dir := writeFiles(t, map[string]string{"main.hcl": src})
		_, diags := Load([]string{filepath.Join(dir, "main.hcl")}, nil)
		if want == `is not expected in a play` {
			// Not a misspelt hosts: hosts is missing as well.
			if len(diags) != 2 {
				t.Errorf("%q: diagnostics = %s, want the argument and the missing hosts", src, diagsString(diags))
			}
			continue
		}
		if len(diags) != 1 || !strings.Contains(diags[0].Detail, want) {
			t.Errorf("%q: diagnostics = %s, want one with %q", src, diagsString(diags), want)
		}
	}
}
