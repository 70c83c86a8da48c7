package health

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fatih/color"
)

// Summary is the report's first line, as a Nagios plugin's: the fleet's
// status and the hosts that are not OK, worst first.
func Summary(r Report) string {
	s := r.Status()
	var bad []string
	for _, st := range []Status{Critical, Unknown, Warning} {
		var hosts []string
		for _, h := range r.Hosts {
			if r.HostStatus(h) == st {
				hosts = append(hosts, h)
			}
		}
		if len(hosts) > 0 {
			bad = append(bad, fmt.Sprintf("%s %s", strings.ToLower(st.String()), strings.Join(hosts, ", ")))
		}
	}
	if len(bad) == 0 {
		return fmt.Sprintf("tend check %s: %s healthy", s, hostCount(len(r.Hosts)))
	}
	return fmt.Sprintf("tend check %s: %s of %s", s, strings.Join(bad, "; "), hostCount(len(r.Hosts)))
}

func hostCount(n int) string {
	if n == 1 {
		return "1 host"
	}
	return fmt.Sprintf("%d hosts", n)
}

// WriteTable writes the summary line, the table (host, check, status, HTTP
// code, latency, restarts since the last check and in all, last state
// change) and what is wrong with each check that is not OK. Colour marks
// the statuses when useColor is set.
func WriteTable(w io.Writer, r Report, useColor bool) error {
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if useColor {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	paint := map[Status]*color.Color{OK: mk(color.FgGreen), Warning: mk(color.FgYellow), Critical: mk(color.FgRed, color.Bold), Unknown: mk(color.FgMagenta)}
	bold := mk(color.Bold)
	var b strings.Builder
	fmt.Fprintln(&b, paint[r.Status()].Sprint(Summary(r)))
	fmt.Fprintln(&b)
	// Colour codes would upset tabwriter's widths: the status column is
	// padded by hand and painted afterwards.
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tCHECK\t\x00STATUS\x00  \tHTTP\tLATENCY\tRESTARTS\tLAST CHANGE")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Host, row.Check, "\x00"+row.Status.String()+"\x00"+strings.Repeat(" ", 8-len(row.Status.String())),
			code(row), latency(row.Latency), restarts(row), lastChange(row.LastChange))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	table := strings.ReplaceAll(b.String(), "\x00STATUS\x00", "STATUS")
	for _, st := range []Status{OK, Warning, Critical, Unknown} {
		table = strings.ReplaceAll(table, "\x00"+st.String()+"\x00", paint[st].Sprint(st.String()))
	}
	var problems []string
	for _, row := range r.Rows {
		if row.Status != OK {
			problems = append(problems, fmt.Sprintf("  %s %s %s: %s", paint[row.Status].Sprint(row.Status), row.Host, row.Check, row.Message))
		}
	}
	if len(problems) > 0 {
		table += "\n" + bold.Sprint("Problems:") + "\n" + strings.Join(problems, "\n") + "\n"
	}
	// Trailing blanks of the last column are tabwriter's padding.
	lines := strings.Split(table, "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n"))
	return err
}

func code(r Row) string {
	if r.Code == 0 {
		if r.Processes != nil {
			return fmt.Sprintf("%d proc", *r.Processes)
		}
		return "-"
	}
	return fmt.Sprint(r.Code)
}

func latency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func restarts(r Row) string {
	switch {
	case r.RestartsTotal == nil:
		return "-"
	case r.Restarts == nil:
		return fmt.Sprintf("new (%d)", *r.RestartsTotal)
	}
	return fmt.Sprintf("+%d (%d)", *r.Restarts, *r.RestartsTotal)
}

func lastChange(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// jsonReport is the --json document.
type jsonReport struct {
	Status   Status     `json:"status"`
	ExitCode int        `json:"exit_code"`
	Summary  string     `json:"summary"`
	Time     time.Time  `json:"time"`
	Hosts    []jsonHost `json:"hosts"`
	Checks   []jsonRow  `json:"checks"`
}

type jsonHost struct {
	Host   string `json:"host"`
	Status Status `json:"status"`
}

type jsonRow struct {
	Row
	LatencySeconds *float64 `json:"latency_seconds,omitempty"`
}

// WriteJSON writes the report as one JSON document: the fleet's status and
// exit code, each host's status, and every check.
func WriteJSON(w io.Writer, r Report) error {
	out := jsonReport{Status: r.Status(), ExitCode: int(r.Status()), Summary: Summary(r), Time: r.Time.UTC(), Hosts: []jsonHost{}, Checks: []jsonRow{}}
	for _, h := range r.Hosts {
		out.Hosts = append(out.Hosts, jsonHost{Host: h, Status: r.HostStatus(h)})
	}
	for _, row := range r.Rows {
		jr := jsonRow{Row: row}
		if row.Latency > 0 {
			s := row.Latency.Seconds()
			jr.LatencySeconds = &s
		}
		out.Checks = append(out.Checks, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
