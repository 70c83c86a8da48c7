package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tend-sh/tend/executor/atomicfile"
)

// Restarts are the restart counts (systemd's NRestarts) tend check saw,
// by host and unit. Kept in a file on the controller between checks, they
// give the restarts since the last check.
type Restarts map[string]map[string]int

// since returns how often unit on host was restarted since the count prev
// holds: nil when prev has none (first seen), the count itself when it went
// down (systemd starts it over when the unit is started by hand or the host
// boots).
func (prev Restarts) since(host, unit string, now int) *int {
	last, ok := prev[host][unit]
	if !ok {
		return nil
	}
	d := now - last
	if d < 0 {
		d = now
	}
	return &d
}

// restartsFile is the state file's format.
type restartsFile struct {
	Version  int      `json:"version"`
	Restarts Restarts `json:"restarts"`
}

// LoadRestarts reads the state file at path; a missing file is no
// previous check.
func LoadRestarts(path string) (Restarts, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Restarts{}, nil
	}
	if err != nil {
		return nil, err
	}
	var f restartsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%s: version %d, want 1", path, f.Version)
	}
	if f.Restarts == nil {
		f.Restarts = Restarts{}
	}
	return f.Restarts, nil
}

// SaveRestarts writes prev with the counts seen replacing the hosts they
// name (hosts not checked this time keep theirs), atomically, making the
// directory if needed.
func SaveRestarts(path string, prev, seen Restarts) error {
	merged := Restarts{}
	for h, units := range prev {
		merged[h] = units
	}
	for h, units := range seen {
		merged[h] = units
	}
	data, err := json.MarshalIndent(restartsFile{Version: 1, Restarts: merged}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o600)
}
