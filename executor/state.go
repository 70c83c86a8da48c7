package executor

import (
	"io/fs"
)

// ProbeKind says what kind of remote state a Probe reads.
type ProbeKind int

// The kinds of remote state a module can ask for.
const (
	// ProbeFile reads a path's type, mode, owner, group, size and (for
	// regular files up to MaxProbeContent bytes) its content.
	ProbeFile ProbeKind = iota + 1
	// ProbeUnit reads a systemd unit's properties (systemctl show).
	ProbeUnit
	// ProbeGuard runs a read-only guard command and records its exit code.
	ProbeGuard
	// ProbeFact runs a Fact's shell snippet and parses its output with the
	// Fact's own parser: the open end of the set, for the state a module
	// reads that is none of the above (packages, users, sysctl values…).
	ProbeFact
)

// MaxProbeContent is the largest file whose content a probe returns; larger
// files come back with only their SHA-256.
const MaxProbeContent = 4 << 20

// Probe asks for one piece of remote state. Modules list the probes they need;
// the executor gathers all probes of a host in one round trip (Gather).
type Probe struct {
	Kind ProbeKind
	// Path is the file or directory for ProbeFile.
	Path string
	// Unit is the unit name (with suffix, e.g. "staffrota.service") for ProbeUnit.
	Unit string
	// Script is the shell guard for ProbeGuard.
	Script string
	// Become reads the state with escalated privileges.
	Become bool
	// DropIns also reads the drop-ins of a ProbeUnit's unit.
	DropIns bool
	// Fact is the fact a ProbeFact reads.
	Fact Fact
}

// Fact is one piece of host state that is not a file, a unit or a guard:
// its shell snippet and its parser, declared next to the module that needs
// it (pyinfra's facts). Gather frames any number of facts into its one
// round trip, runs each snippet once per distinct Key, and hands the
// snippet's standard output and exit status to Parse; a new kind of state
// never edits the transport.
type Fact interface {
	// Key identifies the fact and its arguments ("package:nginx"): two
	// probes of the same key are read once and share the parsed value.
	Key() string
	// Script is a POSIX sh snippet. It runs with standard input from
	// /dev/null and standard error discarded, as the batch's user (root
	// with become); it must change nothing. What it prints on standard
	// output is the fact's raw answer; it may print anything (the answer
	// is framed, not scanned for markers).
	Script() string
	// Parse turns the snippet's output and exit status into the fact's
	// value. An error fails the gather: an answer that was not understood
	// is never taken for an empty state.
	Parse(out []byte, exitCode int) (any, error)
}

// Key identifies the probe's answer in a State.
func (p Probe) Key() string {
	switch p.Kind {
	case ProbeFile:
		return "file:" + p.Path
	case ProbeUnit:
		return "unit:" + p.Unit
	case ProbeGuard:
		return "guard:" + p.Script
	case ProbeFact:
		if p.Fact != nil {
			return "fact:" + p.Fact.Key()
		}
	}
	return "unknown:"
}

// FileState is what a ProbeFile found at a path.
type FileState struct {
	Path   string
	Exists bool
	// Type is "file", "directory", "symlink" or "other" when Exists.
	Type  string
	Mode  fs.FileMode // permission bits only (0o7777 range)
	Owner string
	Group string
	Size  int64
	// Content holds the file's bytes when Type is "file" and Size is at most
	// MaxProbeContent; otherwise it is nil and Truncated is true.
	Content   []byte
	Truncated bool
	// SHA256 is the hex digest of the content, for regular files.
	SHA256 string
}

// UnitState is what a ProbeUnit found (systemctl show).
type UnitState struct {
	Name string
	// LoadState is "loaded", "not-found", "masked", ...
	LoadState   string
	ActiveState string // "active", "inactive", "failed", "activating", ...
	SubState    string
	// UnitFileState is "enabled", "disabled", "static", "masked", "" ...
	UnitFileState    string
	MainPID          int
	NRestarts        int
	NeedDaemonReload bool
	FragmentPath     string
	// DropIns are the unit's effective drop-in files, read from systemd's
	// drop-in directories (not only those systemd has loaded), when the
	// probe asked for them (DropInsRead).
	DropIns     []DropIn
	DropInsRead bool
}

// DropIn is one drop-in file of a unit.
type DropIn struct {
	Path    string
	Content []byte
}

// Active reports whether the unit is running or starting. A unit waiting to
// be restarted after its process died (activating/auto-restart: a crash
// loop) is not active.
func (u *UnitState) Active() bool {
	if u == nil || u.CrashLooping() {
		return false
	}
	return u.ActiveState == "active" || u.ActiveState == "activating" || u.ActiveState == "reloading"
}

// CrashLooping reports whether the unit's process died and systemd is
// waiting to restart it (SubState auto-restart).
func (u *UnitState) CrashLooping() bool {
	return u != nil && u.SubState == "auto-restart"
}

// Enabled reports whether the unit is enabled to start at boot.
func (u *UnitState) Enabled() bool {
	return u != nil && (u.UnitFileState == "enabled" || u.UnitFileState == "enabled-runtime" || u.UnitFileState == "alias")
}

// Facts are host-wide facts gathered with every batch.
type Facts struct {
	Hostname string
	// CPUs is the number of online CPUs (nproc).
	CPUs int
	// OS is the ID from /etc/os-release, e.g. "debian"; OSVersion its
	// VERSION_ID ("12"; empty on rolling releases).
	OS        string
	OSVersion string
	// Kernel is the kernel release (uname -r), Arch the machine (uname -m,
	// e.g. "x86_64").
	Kernel string
	Arch   string
	// Virtualization is what systemd-detect-virt says ("kvm",
	// "systemd-nspawn", "none" on bare metal, "unknown" where it cannot tell).
	Virtualization string
	// Init is the name of process 1 ("systemd", "init", …; empty when it
	// cannot be read).
	Init string
	// User is the login user; EffectiveUser is the user the batch ran as
	// (root with become).
	User          string
	EffectiveUser string
	// Systemd reports whether systemd is PID 1.
	Systemd bool
}

// State is the answer to one Request.
type State struct {
	Facts  Facts
	Files  map[string]*FileState
	Units  map[string]*UnitState
	Guards map[string]int // guard script -> exit code
	// Values are the parsed answers of fact probes, by Fact.Key.
	Values map[string]any
	// Effects are the results of the request's effects, in order.
	Effects []EffectResult
	// Cleared reports that the request's pending records were removed.
	Cleared bool
	// Records are the pending records found in the state directory (when
	// asked for); Lock is what was learnt about the run lock.
	Records []Record
	Lock    LockStatus
}

// FailedEffect returns the first effect that failed, or nil.
func (s *State) FailedEffect() *EffectResult {
	if s == nil {
		return nil
	}
	for i := range s.Effects {
		if s.Effects[i].Failed() {
			return &s.Effects[i]
		}
	}
	return nil
}

// File returns the state of path, or nil when it was not probed.
func (s *State) File(path string) *FileState {
	if s == nil {
		return nil
	}
	return s.Files[path]
}

// Unit returns the state of unit, or nil when it was not probed.
func (s *State) Unit(name string) *UnitState {
	if s == nil {
		return nil
	}
	return s.Units[name]
}

// Fact returns the parsed value of a fact probe, and whether it was read.
func (s *State) Fact(f Fact) (any, bool) {
	if s == nil || f == nil {
		return nil, false
	}
	v, ok := s.Values[f.Key()]
	return v, ok
}

// Guard returns the exit code of a guard script and whether it was probed.
func (s *State) Guard(script string) (int, bool) {
	if s == nil {
		return 0, false
	}
	code, ok := s.Guards[script]
	return code, ok
}
