package plan

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The plan value and its renderer stand alone: neither links the SSH
// transport nor the modules (the layering ARCHITECTURE.md describes).
func TestLayering(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI without the go tool")
		}
		t.Skip("no go tool to list dependencies")
	}
	for _, pkg := range []string{"github.com/tend-sh/tend/executor/plan", "github.com/tend-sh/tend/executor/report"} {
		out, err := exec.Command(goTool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			switch {
			case strings.HasPrefix(dep, "golang.org/x/crypto/ssh"),
				dep == "github.com/tend-sh/tend/modules",
				dep == "github.com/tend-sh/tend/executor",
				dep == "github.com/tend-sh/tend/executor/run":
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
