package modules

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Offline checks of account attributes, shared by user, group and
// authorized_key.

// maxAccountName is the longest user or group name accepted (useradd's
// limit on Linux).
const maxAccountName = 32

// accountNameRe is the POSIX portable user name (letters, digits, ".", "_"
// and "-", not starting with "-"), with the trailing "$" Samba machine
// accounts use.
var accountNameRe = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$`)

// validAccountName checks a user or group name (what names "user" or
// "group" in messages).
func validAccountName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("the %s name is empty", what)
	case len(s) > maxAccountName:
		return fmt.Errorf("%q is longer than %d characters", s, maxAccountName)
	case !accountNameRe.MatchString(s):
		return fmt.Errorf("%q is not a portable %s name: use letters, digits, \".\", \"_\" and \"-\" (not first)", s, what)
	case isAllDigits(s):
		return fmt.Errorf("%q is all digits: tools would take it for a numeric id", s)
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a valid %s name", s, what)
	}
	return nil
}

// maxAccountID is the largest uid or gid accepted: (uid_t)-1 means "no
// change" to the kernel and 65535 was the old 16-bit -1.
const maxAccountID = 1<<32 - 2

// validAccountID checks a uid or gid.
func validAccountID(what string, n int64) error {
	if n < 0 || n > maxAccountID {
		return fmt.Errorf("%s %d is out of range (0 to %d)", what, n, int64(maxAccountID))
	}
	if n == 65535 {
		return fmt.Errorf("%s 65535 is reserved (the 16-bit -1)", what)
	}
	return nil
}

// validAccountPath checks a home directory or login shell: absolute,
// clean, and free of ":" and control characters (they would break the
// passwd entry).
func validAccountPath(what, p string) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("the %s %q is not an absolute path", what, p)
	}
	if path.Clean(p) != p {
		return fmt.Errorf("the %s %q is not a clean path (write %q)", what, p, path.Clean(p))
	}
	if strings.ContainsRune(p, ':') {
		return fmt.Errorf("the %s %q holds a \":\", which separates the fields of /etc/passwd", what, p)
	}
	if hasControl(p) {
		return fmt.Errorf("the %s %q holds a control character", what, p)
	}
	return nil
}

// validComment checks the GECOS field.
func validComment(s string) error {
	if strings.ContainsRune(s, ':') {
		return fmt.Errorf("the comment holds a \":\", which separates the fields of /etc/passwd")
	}
	if hasControl(s) {
		return fmt.Errorf("the comment holds a control character")
	}
	return nil
}

// cryptHashRe matches a crypt(3) hash ($id$…: yescrypt, SHA-512, bcrypt…),
// or a locked or disabled field ("!" or "*" first). The characters are
// those crypt uses.
var cryptHashRe = regexp.MustCompile(`^(?:\$[0-9a-z]+(?:\$[A-Za-z0-9./=,+-]*)+|[!*][!*]?(?:\$[0-9a-z]+(?:\$[A-Za-z0-9./=,+-]*)+)?)$`)

// validPasswordHash checks a password_hash without quoting it: the value
// is a secret, and the message must not hold it.
func validPasswordHash(s string) error {
	if s == "" {
		return fmt.Errorf("password_hash is empty; an empty field would let anyone log in without a password")
	}
	if !cryptHashRe.MatchString(s) {
		return fmt.Errorf("password_hash must be a crypt(3) hash such as \"$y$…\" or \"$6$…\" (made with mkpasswd or openssl passwd -6), or \"!\" or \"*\" to lock the password; this value is not one (it is not shown: it may be a clear-text password)")
	}
	return nil
}
