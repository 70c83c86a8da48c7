package shard

import (
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Shard
		err  string
	}{
		{in: "0/1", want: Shard{0, 1}},
		{in: "3/4", want: Shard{3, 4}},
		{in: " 2 / 10 ", want: Shard{2, 10}},
		{in: "4/4", err: "from 0 to 3"},
		{in: "-1/4", err: "from 0 to 3"},
		{in: "1/0", err: "at least 1"},
		{in: "1", err: "want I/N"},
		{in: "a/4", err: "whole numbers"},
		{in: "1/4x", err: "whole numbers"},
	} {
		got, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q): error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("web%05d.example.com", i)
	}
	return out
}

// Every host is in exactly one shard, and shards are roughly even.
func TestPartition(t *testing.T) {
	hosts := names(10000)
	const n = 8
	counts := make([]int, n)
	for _, h := range hosts {
		in := 0
		for i := range n {
			if (Shard{i, n}).Has(h) {
				in++
				counts[i]++
			}
		}
		if in != 1 {
			t.Fatalf("%s is in %d shards", h, in)
		}
	}
	for i, c := range counts {
		if c < 10000/n*85/100 || c > 10000/n*115/100 {
			t.Errorf("shard %d/%d has %d of 10000 hosts: %v", i, n, c, counts)
		}
	}
}

// Going from N to N+1 shards moves about 1/(N+1) of the hosts, and every
// host that moves goes to the new shard.
func TestGrowMovesFew(t *testing.T) {
	hosts := names(10000)
	for _, n := range []int{1, 4, 9, 31} {
		moved := 0
		for _, h := range hosts {
			a, b := Of(h, n), Of(h, n+1)
			if a != b {
				moved++
				if b != n {
					t.Fatalf("%s moved from %d to %d, not to the new shard %d", h, a, b, n)
				}
			}
		}
		want := len(hosts) / (n + 1)
		if moved < want*8/10 || moved > want*12/10 {
			t.Errorf("%d → %d shards moved %d hosts, want about %d", n, n+1, moved, want)
		}
	}
}

// A host's shard depends on its name only: pinned values catch a change of
// hash (which would move hosts between shards across tend versions).
func TestStable(t *testing.T) {
	got := []int{Of("web1", 4), Of("web2", 4), Of("db1", 4), Of("db2", 4), Of("lb", 4)}
	if want := []int{0, 1, 2, 3, 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("shards of web1 web2 db1 db2 lb in 4 = %v, want %v", got, want)
	}
}

// BenchmarkOf measures the cost of placing one host (a 100k-host run
// places each of its hosts once per process).
func BenchmarkOf(b *testing.B) {
	hosts := names(1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Of(hosts[i%len(hosts)], 100)
	}
}
