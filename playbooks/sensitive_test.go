package playbooks

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/modules"
)

const sensitiveInventory = `
defaults {
  vars = { db_password = sensitive("inv-s3cret-pw"), port = 5432 }
}
host "web1" {}
`

func sensitiveHost(t *testing.T) *inventory.Host {
	t.Helper()
	inv, diags := inventory.Parse([]byte(sensitiveInventory), "inv.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return inv.Hosts[0]
}

// A var marked sensitive in the inventory reaches host.vars in the playbook
// still marked: a file whose content is computed from it (directly, through
// a local, or through templatefile) has a sensitive diff.
func TestInventorySensitiveVarReachesModules(t *testing.T) {
	needKinds(t, "file")
	dir := writeFiles(t, map[string]string{
		"main.hcl": `
locals { dsn = "postgres://app:${host.vars.db_password}@db:${host.vars.port}/app" }
play "p" {
  hosts = ["all"]
  file "/etc/app/direct.env" { content = "DB_PASSWORD=${host.vars.db_password}\n" }
  file "/etc/app/local.env"  { content = "DSN=${local.dsn}\n" }
  file "/etc/app/tmpl.env"   { content = templatefile("app.tpl", { pw = host.vars.db_password }) }
  file "/etc/app/plain.env"  { content = "PORT=${host.vars.port}\n" }
}
`,
		"app.tpl": "DB_PASSWORD=${pw}\n",
	})
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
	plan, diags := pb.Instantiate(pb.Plays[0], sensitiveHost(t))
	if diags.HasErrors() {
		t.Fatal(diagsString(diags))
	}
	files := map[string]*executor.FileState{}
	for _, task := range plan.Tasks {
		p := strings.TrimPrefix(task.ID, "file.")
		files[p] = &executor.FileState{Path: p}
	}
	st := &executor.State{Files: files}
	for _, task := range plan.Tasks {
		d, err := task.Module.Check(context.Background(), &modules.Target{State: st})
		if err != nil {
			t.Fatal(err)
		}
		c := d.Change("content")
		if c == nil {
			t.Fatalf("%s: no content change", task.ID)
		}
		wantSensitive := task.ID != "file./etc/app/plain.env"
		if c.Sensitive != wantSensitive {
			t.Errorf("%s: content change sensitive = %v, want %v", task.ID, c.Sensitive, wantSensitive)
		}
		if wantSensitive {
			if !bytes.Contains(c.NewContent, []byte("inv-s3cret-pw")) {
				t.Errorf("%s: Apply needs the content, got %q", task.ID, c.NewContent)
			}
			if strings.Contains(c.Old+c.New, "inv-s3cret-pw") || bytes.Contains(c.OldContent, []byte("inv-s3cret-pw")) {
				t.Errorf("%s: display values hold the secret: %+v", task.ID, c)
			}
		}
	}
}

// A module's validation message that quotes an inventory secret (or a value
// made sensitive in the playbook) is redacted like a sensitive variable's.
func TestInventorySecretRedactedInDiagnostics(t *testing.T) {
	needKinds(t, "file")
	dir := writeFiles(t, map[string]string{"main.hcl": `
locals { owner = sensitive("local-s3cret-owner!") }
play "p" {
  hosts = ["all"]
  file "/etc/a" {
    content = "x"
    mode    = host.vars.db_password
  }
  file "/etc/b" {
    content = "x"
    owner   = local.owner
  }
}
`})
	pb := mustLoad(t, []string{filepath.Join(dir, "main.hcl")}, nil)
	_, diags := pb.Instantiate(pb.Plays[0], sensitiveHost(t))
	if !diags.HasErrors() {
		t.Fatal("want invalid mode and owner diagnostics")
	}
	for _, d := range diags {
		text := d.Summary + " " + d.Detail
		if strings.Contains(text, "inv-s3cret-pw") || strings.Contains(text, "local-s3cret-owner") {
			t.Errorf("sensitive value in a diagnostic: %s", text)
		}
	}
}
