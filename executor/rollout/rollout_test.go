package rollout

import (
	"fmt"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		hostsOf int
		hosts   int
		wantErr bool
	}{
		{in: "2", want: "2", hostsOf: 10, hosts: 2},
		{in: "0", want: "0", hostsOf: 10, hosts: 0},
		{in: "25%", want: "25%", hostsOf: 4, hosts: 1},
		{in: "25%", want: "25%", hostsOf: 3, hosts: 1},
		{in: "25%", want: "25%", hostsOf: 10, hosts: 3},
		{in: "100%", want: "100%", hostsOf: 7, hosts: 7},
		{in: "1%", want: "1%", hostsOf: 1, hosts: 1},
		{in: "0%", wantErr: true},
		{in: "101%", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "two", wantErr: true},
		{in: "2.5", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSize(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if s.String() != tt.want || s.Hosts(tt.hostsOf) != tt.hosts {
				t.Errorf("%q: %s, %d of %d hosts; want %s, %d", tt.in, s, s.Hosts(tt.hostsOf), tt.hostsOf, tt.want, tt.hosts)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	pct := func(p int) Size { s, _ := ParseSize(fmt.Sprint(p, "%")); return s }
	tests := []struct {
		name string
		p    Policy
		n    int
		want string
	}{
		{"all at once", Policy{}, 4, "[[0 1 2 3]]"},
		{"canary then the rest", Policy{Canary: 1}, 4, "[[0] [1 2 3]]"},
		{"canary and batches", Policy{Canary: 1, Batch: Count(2)}, 6, "[[0] [1 2] [3 4] [5]]"},
		{"share batches", Policy{Batch: pct(25)}, 8, "[[0 1] [2 3] [4 5] [6 7]]"},
		{"canary larger than the fleet", Policy{Canary: 5}, 3, "[[0 1 2]]"},
		{"batch 0 means the rest at once", Policy{Canary: 1, Batch: Count(0)}, 3, "[[0] [1 2]]"},
		{"no hosts", Policy{Canary: 1}, 0, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(tt.p.Groups(tt.n)); got != tt.want {
				t.Errorf("Groups(%d) = %s, want %s", tt.n, got, tt.want)
			}
		})
	}
}

func TestHalts(t *testing.T) {
	tests := []struct {
		name   string
		p      Policy
		failed int
		n      int
		want   bool
	}{
		{"no rollout never halts", Policy{}, 3, 4, false},
		{"staged tolerates none by default", Policy{Canary: 1}, 1, 4, true},
		{"staged, no failure", Policy{Canary: 1}, 0, 4, false},
		{"max 1 tolerates one", Policy{MaxFailures: Count(1)}, 1, 4, false},
		{"max 1 halts at two", Policy{MaxFailures: Count(1)}, 2, 4, true},
		{"25% of 8 tolerates two", Policy{MaxFailures: Size{Percent: 25, set: true}}, 2, 8, false},
		{"25% of 8 halts at three", Policy{MaxFailures: Size{Percent: 25, set: true}}, 3, 8, true},
		{"25% of 3 tolerates none", Policy{MaxFailures: Size{Percent: 25, set: true}}, 1, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Halts(tt.failed, tt.n); got != tt.want {
				t.Errorf("Halts(%d of %d) = %v", tt.failed, tt.n, got)
			}
		})
	}
}
