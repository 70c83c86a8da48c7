package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// tendEvent is the part of one of tend's --json events the benchmark reads.
type tendEvent struct {
	Type       string    `json:"type"`
	Time       time.Time `json:"time"`
	Host       string    `json:"host"`
	Task       string    `json:"task"`
	DurationMS int64     `json:"duration_ms"`
	Recap      []struct {
		Host        string `json:"host"`
		OK          int    `json:"ok"`
		Changed     int    `json:"changed"`
		Failed      int    `json:"failed"`
		Unreachable bool   `json:"unreachable"`
		Error       string `json:"error"`
		RoundTrips  int    `json:"round_trips"`
		DurationMS  int64  `json:"duration_ms"`
	} `json:"recap"`
}

// Phase is one part of a tend run: the longest any host spent in it.
type Phase struct {
	Name string
	Max  time.Duration
}

// phaseConnect names the time from a host's start to the start of its
// first task: connecting, authenticating and reading the host's state.
const phaseConnect = "connect, authenticate, read state"

// TendRun is what the benchmark reads from tend's --json output.
type TendRun struct {
	// Hosts are the lines of the final recap.
	Hosts []HostCounts
	// First is the time of the first event.
	First time.Time
	// Phases are phaseConnect, then every task and handler in the order
	// they first appear, each with its longest duration over hosts.
	Phases []Phase
}

// parseTendRun reads tend's --json output. Lines that are not JSON events
// are ignored; the recap event is required.
func parseTendRun(out string) (*TendRun, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	tr := &TendRun{}
	var recap *tendEvent
	hostStart := map[string]time.Time{}
	firstTask := map[string]time.Time{}
	phase := map[string]int{}
	addPhase := func(name string, d time.Duration) {
		i, ok := phase[name]
		if !ok {
			i = len(tr.Phases)
			phase[name] = i
			tr.Phases = append(tr.Phases, Phase{Name: name})
		}
		tr.Phases[i].Max = max(tr.Phases[i].Max, d)
	}
	addPhase(phaseConnect, 0)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var e tendEvent
		if json.Unmarshal([]byte(line), &e) != nil || e.Type == "" {
			continue
		}
		if tr.First.IsZero() {
			tr.First = e.Time
		}
		switch e.Type {
		case "host_start":
			hostStart[e.Host] = e.Time
		case "task", "handler":
			d := time.Duration(e.DurationMS) * time.Millisecond
			// Events are emitted when a task ends.
			if _, seen := firstTask[e.Host]; !seen {
				firstTask[e.Host] = e.Time.Add(-d)
			}
			name := e.Task
			if e.Type == "handler" {
				name = "handler " + name
			}
			addPhase(name, d)
		case "recap":
			recap = &e
		}
	}
	if recap == nil {
		return tr, errors.New("no recap event in tend's --json output")
	}
	for h, t := range firstTask {
		if s, ok := hostStart[h]; ok && t.After(s) {
			addPhase(phaseConnect, t.Sub(s))
		}
	}
	for _, r := range recap.Recap {
		c := HostCounts{Host: r.Host, OK: r.OK, Changed: r.Changed, Failed: r.Failed, RoundTrips: r.RoundTrips,
			Duration: time.Duration(r.DurationMS) * time.Millisecond, Error: r.Error}
		if r.Unreachable {
			c.Unreach = 1
		}
		tr.Hosts = append(tr.Hosts, c)
	}
	return tr, nil
}
