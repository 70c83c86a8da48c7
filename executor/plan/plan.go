// Package plan is a saved plan: what `tend plan --out FILE` found, per host
// and task, in a file that `tend apply FILE` applies exactly and `tend show
// FILE` renders. It knows files, digests and JSON; nothing of SSH or
// modules. A saved plan holds no secret in clear: each task's fingerprint is
// an HMAC under a key of the controller that is not in the file, and the
// diffs it shows are the redacted ones `--json` prints.
package plan

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tend-sh/tend/executor/atomicfile"
)

// Format is the version of the file format this package writes and reads.
const Format = 1

// magic is the first key of every saved plan, so that apply can tell one
// from a playbook.
var magic = []byte(`"tend_plan":`)

// File is a saved plan.
type File struct {
	// TendPlan is Format.
	TendPlan int `json:"tend_plan"`
	// Tend is the version of tend that wrote it.
	Tend    string    `json:"tend_version"`
	Created time.Time `json:"created"`
	// PlaybookArgs and InventoryArg are the playbook files or directories
	// and the inventory file the plan was made with (absolute paths;
	// InventoryArg is "" for the implicit localhost).
	PlaybookArgs []string `json:"playbook_args"`
	InventoryArg string   `json:"inventory_arg,omitempty"`
	// Playbook and Inventory are the sources the plan came from, with the
	// digest of every file under them.
	Playbook  []Source `json:"playbook"`
	Inventory []Source `json:"inventory,omitempty"`
	// Limit is the --limit the plan was made with.
	Limit []string `json:"limit,omitempty"`
	// KeyID names the controller key of the fingerprints; Nonce makes this
	// plan's fingerprints its own (the same secret in two plans, or on two
	// hosts, does not show).
	KeyID string `json:"key_id"`
	Nonce string `json:"nonce"`
	// Inputs is the HMAC of the variables the plan was made with
	// (--var, --var-file contents, TEND_VAR_*): apply needs the same.
	Inputs string `json:"inputs"`
	Hosts  []Host `json:"hosts"`
	// MAC is the HMAC of the whole file (with MAC empty): an edited plan
	// is refused by apply and flagged by show.
	MAC string `json:"mac"`
}

// Seal sets f's MAC under k.
func (f *File) Seal(k Key) error {
	f.TendPlan = Format
	f.MAC = ""
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	f.MAC = k.Fingerprint(data)
	return nil
}

// Verify reports whether f's MAC is right under k.
func (f *File) Verify(k Key) bool {
	c := *f
	c.MAC = ""
	data, err := json.Marshal(&c)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(k.Fingerprint(data)), []byte(f.MAC))
}

// NewNonce returns a random nonce for a plan.
func NewNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Source is one file the plan was computed from.
type Source struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Host is what the plan found on one host.
type Host struct {
	Name string `json:"name"`
	// Error is set when the plan could not read the host (unreachable) or
	// a task failed there: apply of the plan refuses such a host.
	Error string `json:"error,omitempty"`
	// Pending names the records of earlier runs the plan found on the
	// host (owed handlers and restarts): apply refuses the host when they
	// differ.
	Pending []string `json:"pending,omitempty"`
	Tasks   []Task   `json:"tasks"`
}

// Task is one task's planned change.
type Task struct {
	ID string `json:"id"`
	// Status is the plan's: "ok", "change", "will_run", "skipped".
	Status string `json:"status"`
	// Fingerprint is the HMAC of what the task would do, computed from the
	// state it was planned against.
	Fingerprint string `json:"fingerprint"`
	// Summary says in a few words what changes; Diff is the redacted diff
	// as --json prints it.
	Summary string          `json:"summary,omitempty"`
	Diff    json.RawMessage `json:"diff,omitempty"`
}

// Changes counts the tasks that change something, over all hosts.
func (f *File) Changes() int {
	n := 0
	for _, h := range f.Hosts {
		for _, t := range h.Tasks {
			if t.Status == "change" || t.Status == "will_run" {
				n++
			}
		}
	}
	return n
}

// Is reports whether data (its beginning will do) is a saved plan: a JSON
// object whose first key is "tend_plan".
func Is(data []byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(data, []byte("{")) {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(data[1:], " \t\r\n"), magic)
}

// IsFile reports whether the file at path is a saved plan.
func IsFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 64)
	n, _ := f.Read(buf)
	return Is(buf[:n])
}

// Read loads a saved plan.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !Is(data) {
		return nil, fmt.Errorf("%s is not a saved plan of tend", path)
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.TendPlan != Format {
		return nil, fmt.Errorf("%s is a plan of format %d; this tend reads format %d", path, f.TendPlan, Format)
	}
	return &f, nil
}

// Write saves f to path atomically (temporary file and rename), 0600.
func (f *File) Write(path string) error {
	f.TendPlan = Format
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o600)
}

// Sources returns the digests of the files a playbook or inventory path
// stands for, as tend reads them: a file (through any symbolic link), or
// the *.hcl files directly in a directory; sorted by path, made absolute.
// Files skip names the paths exclude (the plan file itself).
func Sources(paths []string, skip ...string) ([]Source, error) {
	skipped := map[string]bool{}
	for _, s := range skip {
		if abs, err := filepath.Abs(s); err == nil {
			skipped[abs] = true
		}
	}
	var out []Source
	add := func(p string) error {
		if skipped[p] {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out = append(out, Source{Path: p, SHA256: hex.EncodeToString(sum[:])})
		return nil
	}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			if err := add(abs); err != nil {
				return nil, err
			}
			continue
		}
		matches, err := filepath.Glob(filepath.Join(abs, "*.hcl"))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			if err := add(m); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no file under %s", strings.Join(paths, ", "))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// CheckSources says which of the plan's sources changed since, or nil.
func CheckSources(saved []Source, what string) error {
	now := map[string]string{}
	for _, s := range saved {
		data, err := os.ReadFile(s.Path)
		if err != nil {
			return fmt.Errorf("the %s file %s the plan was made from cannot be read: %w", what, s.Path, err)
		}
		sum := sha256.Sum256(data)
		now[s.Path] = hex.EncodeToString(sum[:])
	}
	for _, s := range saved {
		if now[s.Path] != s.SHA256 {
			return fmt.Errorf("the %s file %s changed since the plan was made", what, s.Path)
		}
	}
	return nil
}

// Key is the controller's key for fingerprints.
type Key []byte

// ID names the key without revealing it.
func (k Key) ID() string {
	sum := sha256.Sum256(append([]byte("tend plan key id\x00"), k...))
	return hex.EncodeToString(sum[:8])
}

// Fingerprint returns the HMAC of canonical under k.
func (k Key) Fingerprint(canonical []byte) string {
	m := hmac.New(sha256.New, k)
	m.Write(canonical)
	return hex.EncodeToString(m.Sum(nil))
}

// KeyPath is where the controller's key lives: $TEND_PLAN_KEY_FILE, or
// tend/plan.key in the user's configuration directory.
func KeyPath() (string, error) {
	if p := os.Getenv("TEND_PLAN_KEY_FILE"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "tend", "plan.key"), nil
}

// LoadKey reads the controller's key; create makes one (32 random bytes,
// 0600) when there is none.
func LoadKey(create bool) (Key, error) {
	p, err := KeyPath()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err == nil {
		if fi, serr := os.Stat(p); serr == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("the plan key %s is readable by others (mode %04o): with it, a guess at a secret can be tested against a plan's fingerprints; chmod 600 it", p, fi.Mode().Perm())
		}
		if len(data) < 32 {
			return nil, fmt.Errorf("the plan key %s is too short (%d bytes)", p, len(data))
		}
		return Key(data), nil
	}
	if !errors.Is(err, fs.ErrNotExist) || !create {
		return nil, fmt.Errorf("the plan key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	// Written whole in a temporary file, then linked into place: another
	// tend making the key at the same time, or a crash, never leaves a
	// short one.
	tmp, err := os.CreateTemp(filepath.Dir(p), ".plan-key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadKey(false)
		}
		return nil, err
	}
	return Key(key), nil
}
