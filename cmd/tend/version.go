package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); without
// it, tend names itself by the commit it was built from.
var version = ""

// commit is the VCS revision set at link time (-X main.commit=...), for
// builds that record none (GOFLAGS=-buildvcs=false, a source tarball).
var commit = ""

// tendVersion returns this tend's version: the link-time one, or the
// module version and VCS revision recorded in the binary ("+dirty" when
// the work tree had changes), or "devel".
func tendVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := info.Main.Version
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev
		if dirty {
			v += "+dirty"
		}
	}
	return v
}

// planVersion names this tend for a saved plan: its version, and for a
// build that names no clean commit, the digest of the executable too, so
// that a plan is applied by the very tend that made it.
func planVersion() string {
	v := tendVersion()
	if version != "" || (!strings.HasSuffix(v, "+dirty") && strings.Contains(v, " ")) {
		return v
	}
	exe, err := os.Executable()
	if err != nil {
		return v
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		return v
	}
	sum := sha256.Sum256(data)
	return v + " exe " + hex.EncodeToString(sum[:8])
}

// buildInfo is what `tend version` and `tend --version` report.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// currentBuild describes this binary: its version (see tendVersion), the
// full VCS revision it was built from when the build recorded one, and the
// Go toolchain and platform.
func currentBuild() buildInfo {
	b := buildInfo{Version: tendVersion(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if version == "" {
		// tendVersion appended the short commit; the commit has its own field.
		b.Version, _, _ = strings.Cut(b.Version, " ")
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if commit != "" {
		b.Commit = commit
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

// String is the human form: "tend v1.2.3 (commit 0123abcd…, go1.26.8 linux/amd64)".
func (b buildInfo) String() string {
	commit := b.Commit
	if commit == "" {
		commit = "unknown"
	}
	if b.Modified {
		commit += "+dirty"
	}
	return fmt.Sprintf("tend %s (commit %s, %s %s/%s)", b.Version, commit, b.GoVersion, b.OS, b.Arch)
}

// write prints b as one line, or as a JSON object.
func (b buildInfo) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(b)
	}
	_, err := fmt.Fprintln(w, b.String())
	return err
}

func newVersionCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print tend's version, commit, Go version and platform",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return currentBuild().write(cmd.OutOrStdout(), g.json)
		},
	}
}
