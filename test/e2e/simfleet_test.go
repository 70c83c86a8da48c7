//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/tend-sh/tend/test/simfleet"
)

// recordingFile is the recording the scale benchmark's simulated hosts
// answer from.
const recordingFile = "../simfleet/testdata/staffrota-noop.json"

// TestSimfleetRecordingCurrent records what a real converged host answers
// to a no-op apply of the staffrota example, through simfleet's recording
// proxy, and compares it with the committed recording, so that the
// simulated fleet of `make bench-scale` cannot silently answer like an
// older tend's host. SIMFLEET_UPDATE=1 writes the new recording instead.
// recordedMainPID matches systemctl's MainPID property in a recording.
var recordedMainPID = regexp.MustCompile(`MainPID=[0-9]+`)

func TestSimfleetRecordingCurrent(t *testing.T) {
	f, _, inv := fleetWithInventory(t, "simrec", 1, "deploy")
	h := f.Hosts[0]
	tend(t, nil, "apply", playbook, "-i", inv).wantExit(t, 0)
	tend(t, nil, "apply", playbook, "-i", inv).wantExit(t, 0) // converged

	pem, err := os.ReadFile(f.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	p, err := simfleet.StartProxy(h.Address+":22", "deploy", key, f.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := simfleet.WriteClient(t.TempDir(), []string{p.Addr}, p.HostKey)
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	r := tend(t, nil, "apply", playbook, "-i", c.Inventory, "--json")
	rec := p.Close()
	r.wantExit(t, 0)

	old, err := simfleet.Load(recordingFile)
	if err != nil {
		t.Fatal(err)
	}
	rec.Note = old.Note
	got, _ := json.MarshalIndent(rec, "", "  ")
	want, _ := json.MarshalIndent(old, "", "  ")
	// The app's main PID differs from boot to boot; what tend reads of it
	// (MainPID=N) is what the recording must keep, not its value.
	if recordedMainPID.ReplaceAllString(string(got), "MainPID=N") == recordedMainPID.ReplaceAllString(string(want), "MainPID=N") {
		return
	}
	if os.Getenv("SIMFLEET_UPDATE") == "1" {
		if err := rec.Save(recordingFile); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", recordingFile)
		return
	}
	fresh := filepath.Join(t.TempDir(), "staffrota-noop.json")
	_ = rec.Save(fresh)
	t.Errorf("a converged host now answers differently from %s (%d exchanges and %d socket conversations recorded, %d and %d committed); "+
		"if tend's scripts changed on purpose, run this test with SIMFLEET_UPDATE=1 and commit the recording. New recording:\n%s",
		recordingFile, len(rec.Exchanges), len(rec.Sockets), len(old.Exchanges), len(old.Sockets), got)
}
