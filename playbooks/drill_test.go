package playbooks

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRestartDrillBlock(t *testing.T) {
	dir := writeFiles(t, map[string]string{"pb.hcl": `
variable "margin" { default = "15s" }
play "p" {
  hosts = ["web"]
  restart_drill {
    unit    = "staffrota.service"
    workers = 2
    margin  = var.margin
  }
  restart_drill {
    unit = "other.service"
  }
  health_check "h" {
    url = "http://localhost/"
  }
}
`})
	pb := mustLoad(t, []string{filepath.Join(dir, "pb.hcl")}, nil)
	d := pb.Plays[0].Drills
	if len(d) != 2 {
		t.Fatalf("drills: %+v", d)
	}
	if d[0].Unit != "staffrota.service" || d[0].Workers != 2 || d[0].Margin != 15*time.Second || d[0].AllowWithoutHealthCheck || d[0].Range.Start.Line != 5 {
		t.Errorf("first: %+v", d[0])
	}
	if d[1].Unit != "other.service" || d[1].Workers != -1 || d[1].Margin != DefaultDrillMargin {
		t.Errorf("second (defaults): %+v", d[1])
	}

	for _, tc := range []struct{ body, want string }{
		{`restart_drill { unit = "a.service" }`, `refuse: play "p" has no health_check`},
		{"restart_drill {\n allow_without_health_check = true\n}", "A restart_drill block needs unit"},
		{"restart_drill {\n unit = \"a.service\"\n margin = \"soon\"\n allow_without_health_check = true\n}", "margin is how long past the unit's RestartSec"},
		{"restart_drill {\n unit = \"a.service\"\n workers = -1\n allow_without_health_check = true\n}", "workers is the number of processes"},
		{"restart_drill {\n unit = \"a.service\"\n allow_without_health_check = true\n}\nrestart_drill {\n unit = \"a.service\"\n allow_without_health_check = true\n}", "already drills a.service"},
		{"restart_drill \"x\" {\n unit = \"a.service\"\n allow_without_health_check = true\n}", "takes no label"},
		{"restart_drill {\n unit = \"a.service\"\n allow_without_health_check = true\n rollout {}\n}", "holds only unit, workers, margin"},
	} {
		dir := writeFiles(t, map[string]string{"pb.hcl": "play \"p\" {\n  hosts = [\"web\"]\n" + tc.body + "\n}\n"})
		_, diags := Load([]string{filepath.Join(dir, "pb.hcl")}, nil)
		if !diags.HasErrors() || !strings.Contains(diagsString(diags), tc.want) {
			t.Errorf("%s:\nwant %q, got %s", tc.body, tc.want, diagsString(diags))
		}
	}
}
