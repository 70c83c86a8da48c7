package executor

import (
	"encoding/binary"
	"io"
	"sync"
)

// SFTP (draft-ietf-secsh-filexfer-02) constants the open rewriter needs.
const (
	sftpPacketOpen      = 3   // SSH_FXP_OPEN
	sftpAttrPermissions = 0x4 // SSH_FILEXFER_ATTR_PERMISSIONS
)

// sftpCreatePermissions are the permissions openPermWriter asks for; tests
// set it to zero to act like a server that ignores them.
var sftpCreatePermissions uint32 = 0o600

// openPermWriter carries the client's SFTP packets to the server and gives
// every SSH_FXP_OPEN request that has no attributes the permissions 0600.
//
// github.com/pkg/sftp (v1.13) sends its open requests without attributes,
// so the server creates files with its default mode (0666 less its umask,
// typically 0644): a temporary file holding a secret would be readable by
// anyone from its creation until a later chmod, and whoever opened it in
// that window keeps reading it after the chmod. Servers (OpenSSH's
// sftp-server, pkg/sftp's server) use the permissions of an open request
// when it creates the file and ignore them otherwise, so with this rewrite
// every file tend creates over SFTP is private from the start; its final
// mode is set explicitly before it is renamed into place.
//
// The rewrite is confined to the one packet type: every other packet, and
// an open request that already carries attributes, goes through unchanged.
type openPermWriter struct {
	w io.WriteCloser

	mu  sync.Mutex
	buf []byte // the incomplete packet received so far
}

// Write implements io.Writer. It forwards each packet once it is complete
// (pkg/sftp writes a packet's header and payload in separate calls).
func (o *openPermWriter) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	for len(o.buf) >= 4 {
		n := 4 + int(binary.BigEndian.Uint32(o.buf))
		if len(o.buf) < n {
			break
		}
		if _, err := o.w.Write(withOpenPermissions(o.buf[:n])); err != nil {
			return 0, err
		}
		o.buf = o.buf[n:]
	}
	if len(o.buf) == 0 {
		o.buf = nil
	} else {
		o.buf = append([]byte(nil), o.buf...)
	}
	return len(p), nil
}

// Close implements io.Closer.
func (o *openPermWriter) Close() error { return o.w.Close() }

// withOpenPermissions returns pkt (one whole SFTP packet, length prefix
// included) with permissions 0600 added if it is an open request without
// attributes, and pkt itself otherwise.
func withOpenPermissions(pkt []byte) []byte {
	// uint32 length, byte type, uint32 id, string path, uint32 pflags,
	// uint32 attribute flags (then the attributes the flags announce).
	if len(pkt) < 5 || pkt[4] != sftpPacketOpen || sftpCreatePermissions == 0 {
		return pkt
	}
	rest := pkt[9:]
	if len(rest) < 4 {
		return pkt
	}
	pathLen := uint64(binary.BigEndian.Uint32(rest))
	if uint64(len(rest)) != 4+pathLen+8 {
		return pkt // attributes present, or not a packet we understand
	}
	if binary.BigEndian.Uint32(rest[4+pathLen+4:]) != 0 {
		return pkt
	}
	out := make([]byte, 0, len(pkt)+4)
	out = append(out, pkt...)
	binary.BigEndian.PutUint32(out, uint32(len(pkt)+4-4))
	binary.BigEndian.PutUint32(out[len(pkt)-4:], sftpAttrPermissions)
	return binary.BigEndian.AppendUint32(out, sftpCreatePermissions)
}
