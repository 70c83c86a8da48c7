package executor

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
)

// DefaultFileMode is the mode WriteFile gives a file when FileAttrs.Mode is
// zero.
const DefaultFileMode fs.FileMode = 0o644

// unixPerm returns the unix permission bits (0o7777 range) of m. It accepts
// both conventions: raw unix bits (0o4755) and Go's fs.ModeSetuid,
// fs.ModeSetgid and fs.ModeSticky flags. Zero means DefaultFileMode.
func unixPerm(m fs.FileMode) uint32 {
	if m == 0 {
		m = DefaultFileMode
	}
	perm := uint32(m & 0o7777)
	if m&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	return perm
}

// tempName returns the temporary file name WriteFile uses next to dest.
func tempName(dest string) string {
	return path.Join(path.Dir(dest), ".tend-"+randomToken(8)+".tmp")
}

// installScript returns the privileged script that moves src (an uploaded,
// private file) into place at dest with attrs: install(1) copies it to a
// temporary file in dest's directory with mode and owner, sync(1) flushes it,
// mv -T renames it over dest (one rename(2) in one directory, so readers
// see the old or the new file, never a mix), and sync(1) flushes the
// directory so that the rename survives a crash (best effort, as for the
// local connection: the file is in place whatever it says). The trap
// removes src and the temporary file whatever happens; a failure before
// the rename leaves dest as it was.
func installScript(src, dest string, attrs FileAttrs) string {
	tmp := tempName(dest)
	install := "install -m " + strconv.FormatUint(uint64(unixPerm(attrs.Mode)), 8)
	if attrs.Owner != "" {
		install += " -o " + ShellQuote(attrs.Owner)
	}
	if attrs.Group != "" {
		install += " -g " + ShellQuote(attrs.Group)
	}
	return fmt.Sprintf(`src=%s; tmp=%s; dest=%s; dir=%s
trap 'rm -f -- "$src" "$tmp"' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
%s -- "$src" "$tmp" && sync -- "$tmp" && mv -f -T -- "$tmp" "$dest" || exit
sync -- "$dir" 2>/dev/null || :
`, ShellQuote(src), ShellQuote(tmp), ShellQuote(dest), ShellQuote(path.Dir(dest)), install)
}
