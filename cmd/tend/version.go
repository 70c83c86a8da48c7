package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"runtime/debug"
	"strings"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); without
// it, tend names itself by the commit it was built from.
var version = ""

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
