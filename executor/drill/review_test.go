package drill

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor"
)

// TestReview_KillChecksMainPIDAtKillTime: the drill kills the MainPID that
// Read saw one command earlier. When the unit's main process changed since
// (the service restarted, the old PID may now be any process), the drill
// must kill nothing.
func TestReview_KillChecksMainPIDAtKillTime(t *testing.T) {
	dir := fakeSystemd(t, []string{"ActiveState=active SubState=running MainPID=4242 Result=success NRestarts=1 ControlGroup="}, "")
	// systemctl show -p MainPID --value, asked just before the kill,
	// answers the unit's current main process.
	if err := os.WriteFile(filepath.Join(dir, "mainpid"), []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pid := victim(t) // no longer the unit's: it must survive
	u := &Unit{Name: "a.service", LoadState: "loaded", ActiveState: "active", MainPID: pid, Restart: "always", RestartSec: time.Second}
	_, err := Kill(context.Background(), executor.NewLocal(executor.LocalOptions{}), u, Options{Workers: -1, Margin: time.Second})
	p, _ := os.FindProcess(pid)
	if p.Signal(syscall.Signal(0)) != nil || isZombie(pid) {
		t.Fatalf("the drill killed PID %d, which was no longer the unit's main process (err %v)", pid, err)
	}
	if err == nil {
		t.Fatal("no error for a main process that changed before the kill")
	}
}

// isZombie reports whether pid has exited and waits to be reaped.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] == 'Z'
		}
	}
	return false
}
