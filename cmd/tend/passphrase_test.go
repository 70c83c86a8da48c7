package main

import "testing"

// TestPassphraseCacheHandsOutCopies: what get returns is wiped by its user
// (executor.decryptIdentity zeroes it); the cache must still hold the
// passphrase for the next host.
func TestPassphraseCacheHandsOutCopies(t *testing.T) {
	p := &passphraseCache{byFile: map[string][]byte{"/k": []byte("open sesame")}}
	for range 2 {
		pw, err := p.get("/k")
		if err != nil {
			t.Fatal(err)
		}
		if string(pw) != "open sesame" {
			t.Fatalf("got %q, want the passphrase", pw)
		}
		clear(pw)
	}
}
