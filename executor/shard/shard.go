// Package shard splits the hosts of a run among N independent runs of tend
// (--shard I/N), so that a batch engine — a Kubernetes Indexed Job, a Nomad
// parameterized job — can fan one large run out over many controllers.
//
// A host's shard depends only on its name and N (jump consistent hashing
// of the SHA-256 of the name), never on its position in the inventory:
// reordering the inventory moves no host, adding or removing a host moves
// no other host, and going from N to N+1 shards moves only about 1/(N+1)
// of the hosts. The price is that the split is balanced only statistically:
// with few hosts per shard, shards differ in size and one may be empty.
// Indices are 0-based, as Kubernetes' JOB_COMPLETION_INDEX and Nomad's
// NOMAD_ALLOC_INDEX are.
package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Shard is one part of N: Index in [0, Count).
type Shard struct {
	Index, Count int
}

// Parse reads "I/N": 0 <= I < N, N >= 1.
func Parse(s string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("%q: want I/N, the 0-based index of this shard and the number of shards, such as 0/4", s)
	}
	index, err1 := strconv.Atoi(strings.TrimSpace(i))
	count, err2 := strconv.Atoi(strings.TrimSpace(n))
	switch {
	case err1 != nil || err2 != nil:
		return Shard{}, fmt.Errorf("%q: want I/N with whole numbers, such as 0/4", s)
	case count < 1:
		return Shard{}, fmt.Errorf("%q: the number of shards must be at least 1", s)
	case index < 0 || index >= count:
		return Shard{}, fmt.Errorf("%q: the index is 0-based and must be from 0 to %d", s, count-1)
	}
	return Shard{Index: index, Count: count}, nil
}

// String is the "I/N" form.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Of returns the shard, in [0, n), that the host named name belongs to.
func Of(name string, n int) int {
	sum := sha256.Sum256([]byte(name))
	return jump(binary.BigEndian.Uint64(sum[:8]), n)
}

// Has reports whether the host named name belongs to s.
func (s Shard) Has(name string) bool { return Of(name, s.Count) == s.Index }

// jump is Lamping and Veach's jump consistent hash: the bucket in [0, n)
// of key, moving only 1/n of the keys when n grows by one.
func jump(key uint64, n int) int {
	var b, j int64 = -1, 0
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}
