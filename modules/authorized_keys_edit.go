package modules

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// authKey is the one key an authorized_key task manages.
type authKey struct {
	// id is the key's identity: its type and base64 blob. Lines with the
	// same identity are the same key, whatever their options or comment.
	id string
	// line is the whole line the task wants: options, type, blob, comment.
	line string
}

// parseAuthKey validates key (an authorized_keys line: "type blob
// [comment]", possibly with options first) and options (which replace the
// key's own) and returns the key and the line to write.
func parseAuthKey(key, options string) (authKey, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return authKey{}, errors.New("the key is empty")
	}
	if strings.ContainsAny(key, "\r\n\x00") {
		return authKey{}, errors.New("the key must be one line (one key per task)")
	}
	if strings.ContainsAny(options, "\r\n\x00") {
		return authKey{}, errors.New("options must be one line")
	}
	pub, comment, keyOpts, rest, err := ssh.ParseAuthorizedKey([]byte(key))
	if err != nil {
		return authKey{}, fmt.Errorf("not an SSH public key line (\"ssh-ed25519 AAAA… comment\"): %v", err)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return authKey{}, errors.New("the key must be one line (one key per task)")
	}
	opts := strings.Join(keyOpts, ",")
	if options != "" {
		if len(keyOpts) > 0 {
			return authKey{}, errors.New("the key has options of its own and options is set too: give them in one place")
		}
		opts = strings.TrimSpace(options)
	}
	k := authKey{id: keyIdentity(pub)}
	k.line = pub.Type() + " " + base64.StdEncoding.EncodeToString(pub.Marshal())
	if comment != "" {
		k.line += " " + comment
	}
	if opts != "" {
		k.line = opts + " " + k.line
		// The options must read back as options of this key.
		pub2, _, got, _, err := ssh.ParseAuthorizedKey([]byte(k.line))
		if err != nil || keyIdentity(pub2) != k.id || strings.Join(got, ",") != opts {
			return authKey{}, fmt.Errorf("options %q are not valid authorized_keys options (comma-separated, values in double quotes: from=\"10.0.0.0/8\",no-pty)", opts)
		}
	}
	return k, nil
}

// keyIdentity is a key's type and blob.
func keyIdentity(pub ssh.PublicKey) string {
	return pub.Type() + " " + base64.StdEncoding.EncodeToString(pub.Marshal())
}

// lineIdentity returns the identity of the key on an authorized_keys line
// (without its line ending), or "" for a blank line, a comment or a line
// that does not parse.
func lineIdentity(line string) string {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, "#") {
		return ""
	}
	pub, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(t))
	if err != nil || len(bytes.TrimSpace(rest)) > 0 {
		return ""
	}
	return keyIdentity(pub)
}

// editAuthorizedKeys returns the content of an authorized_keys file (old;
// nil when there is none) with k present or, with absent, without it.
//
// The first line of the same key is replaced in place by k's line (with
// its own line ending) and later ones are removed; a key that is not there
// is appended, with the file's line ending ("\r\n" when its last ended
// so). Every other line, comments and lines tend cannot parse included,
// is kept byte for byte — unless exclusive: then only k's line stays.
func editAuthorizedKeys(old []byte, k authKey, absent, exclusive bool) []byte {
	var out []byte
	found := false
	ending := "\n"
	for _, l := range splitLinesKeep(old) {
		body, end := cutLineEnding(l)
		if end != "" {
			ending = end
		}
		if lineIdentity(body) == k.id {
			if absent || found {
				continue
			}
			found = true
			out = append(out, k.line...)
			out = append(out, end...)
			continue
		}
		if exclusive {
			continue
		}
		out = append(out, l...)
	}
	if !absent && !found {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, ending...)
		}
		out = append(out, k.line...)
		out = append(out, ending...)
	}
	if out == nil {
		out = []byte{}
	}
	return out
}

// splitLinesKeep splits data into lines that keep their "\n".
func splitLinesKeep(data []byte) []string {
	var lines []string
	s := string(data)
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// cutLineEnding splits a line into its body and its ending ("\n", "\r\n"
// or "" for a last line without one).
func cutLineEnding(l string) (string, string) {
	if b, ok := strings.CutSuffix(l, "\r\n"); ok {
		return b, "\r\n"
	}
	if b, ok := strings.CutSuffix(l, "\n"); ok {
		return b, "\n"
	}
	return l, ""
}
