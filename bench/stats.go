package main

import (
	"fmt"
	"slices"
	"time"
)

// Summary is the median, minimum and maximum of some samples.
type Summary struct {
	Median, Min, Max float64
	N                int
}

// summarize returns the summary of xs. The median of an even count is the
// mean of the two middle values.
func summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Summary{Median: med, Min: s[0], Max: s[n-1], N: n}
}

// medianInt is the (lower) median of xs, 0 for none.
func medianInt(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// Series holds the results of one tool in one scenario.
type Series struct {
	Tool    string
	Results []Result
}

// Wall, CPU and RSS summarize the series' wall time (seconds), CPU time
// (seconds) and peak RSS (MiB).
func (s *Series) Wall() Summary {
	return s.pick(func(r Result) float64 { return r.Usage.Wall.Seconds() })
}

// CPU summarizes controller CPU seconds (user+sys).
func (s *Series) CPU() Summary {
	return s.pick(func(r Result) float64 { return r.Usage.CPU.Seconds() })
}

// RSS summarizes the peak resident set of a single process, in MiB.
func (s *Series) RSS() Summary {
	return s.pick(func(r Result) float64 { return float64(r.Usage.MaxRSS) / 1024 })
}

// HostCPU summarizes the hosts' CPU seconds; ok is false when any run has
// none.
func (s *Series) HostCPU() (Summary, bool) {
	for _, r := range s.Results {
		if !r.HasHostCPU {
			return Summary{}, false
		}
	}
	return s.pick(func(r Result) float64 { return r.HostCPU.Seconds() }), len(s.Results) > 0
}

func (s *Series) pick(f func(Result) float64) Summary {
	xs := make([]float64, len(s.Results))
	for i, r := range s.Results {
		xs[i] = f(r)
	}
	return summarize(xs)
}

// Ratio is one of the benchmark's targets: num ÷ den compared with a
// bound.
type Ratio struct {
	Name string
	// Value is the ratio of the two medians.
	Value float64
	// Target is the bound; AtMost says whether Value must stay at or below
	// it (true) or reach at least it (false).
	Target float64
	AtMost bool
	// Info marks a ratio shown for context, without a target.
	Info bool
}

// Met reports whether the ratio meets its target.
func (r Ratio) Met() bool {
	if r.Info {
		return true
	}
	if r.AtMost {
		return r.Value <= r.Target
	}
	return r.Value >= r.Target
}

// Verdict says whether the target is met and, if not, by how much it is
// missed, relative to the target.
func (r Ratio) Verdict() string {
	if r.Info {
		return "for context"
	}
	if r.Met() {
		return "met"
	}
	if r.AtMost {
		return fmt.Sprintf("missed: %.2f× is %.1f%% above the %.1f× bound", r.Value, (r.Value/r.Target-1)*100, r.Target)
	}
	return fmt.Sprintf("missed: %.2f× is %.1f%% short of %.1f×", r.Value, (1-r.Value/r.Target)*100, r.Target)
}

// Bound renders the target, e.g. "≤ 1.3×".
func (r Ratio) Bound() string {
	if r.Info {
		return "—"
	}
	if r.AtMost {
		return fmt.Sprintf("≤ %.1f×", r.Target)
	}
	return fmt.Sprintf("≥ %.1f×", r.Target)
}

// fmtSecs renders seconds with a precision that suits their size.
func fmtSecs(s float64) string {
	switch {
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1000)
	case s < 10:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.1f s", s)
	}
}

// fmtDur renders a duration like fmtSecs.
func fmtDur(d time.Duration) string { return fmtSecs(d.Seconds()) }
