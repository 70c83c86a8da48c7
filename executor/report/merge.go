package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tend-sh/tend/executor/shard"
)

// Stream is what one shard's --json event stream says about its run: how
// it started and, when the stream is whole, its recap.
type Stream struct {
	// Name names the stream in messages (its file name).
	Name string
	// Start is the run_start event; nil when the stream has none (the
	// shard ended before it started its run).
	Start *JSONEvent
	// Recap is the final recap event; nil when the stream ends before it.
	Recap *JSONEvent
	// Shard is the shard the stream says it ran, if any.
	Shard *shard.Shard
}

// ReadStream reads a --json event stream. A last line cut short (no
// newline, not JSON) is a stream that ended early, not an error; any other
// line that is not a tend event is.
func ReadStream(name string, r io.Reader) (*Stream, error) {
	s := &Stream{Name: name}
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		complete := bytes.HasSuffix(line, []byte("\n"))
		if text := bytes.TrimSpace(line); len(text) > 0 {
			var e JSONEvent
			if jerr := json.Unmarshal(text, &e); jerr != nil || e.Type == "" {
				if !complete {
					// Cut off mid-line: the shard's output ends here.
					break
				}
				return nil, fmt.Errorf("%s:%d: not a tend --json event: %.60q", name, n, text)
			}
			switch e.Type {
			case EventRunStart:
				if s.Start != nil {
					return nil, fmt.Errorf("%s:%d: a second run_start: give each shard's stream in a file of its own", name, n)
				}
				s.Start = &e
				if e.Run != nil && e.Run.Shard != "" {
					sh, perr := shard.Parse(e.Run.Shard)
					if perr != nil {
						return nil, fmt.Errorf("%s:%d: shard %w", name, n, perr)
					}
					s.Shard = &sh
				}
			case EventRecap:
				if s.Start == nil {
					return nil, fmt.Errorf("%s:%d: a recap before run_start", name, n)
				}
				s.Recap = &e
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	return s, nil
}

// Unknown is a part of the run whose outcome the streams do not tell.
type Unknown struct {
	// What names it: a stream, or a shard no stream was given for.
	What string
	// Why says what is missing.
	Why string
	// Hosts are its hosts when the stream named them.
	Hosts []string
}

// Merged is the recap of a run made of shards.
type Merged struct {
	Mode string
	// Run identifies what the shards ran (without a shard).
	Run *RunID
	// Hosts are every stream's hosts, in shard order.
	Hosts []string
	// Recaps are the recaps of the shards that finished.
	Recaps []HostRecap
	// Unknown lists the shards whose outcome is unknown: their streams
	// end before their recap, or none was given. Such a run is never a
	// success.
	Unknown []Unknown
}

// Merge checks that streams are shards of one run — the same mode,
// playbook and inventory, the same number of shards, each shard once, no
// host twice — and merges their recaps. Streams without a shard are
// accepted (runs over disjoint hosts, --limit by hand) if they agree on
// the rest.
func Merge(streams []*Stream) (*Merged, error) {
	if len(streams) == 0 {
		return nil, errors.New("no stream to merge")
	}
	m := &Merged{}
	var first *Stream
	count := 0
	byIndex := map[int]string{}
	hostIn := map[string]string{}
	// Shard order: by index, streams without one after, in given order.
	ordered := append([]*Stream(nil), streams...)
	sort.SliceStable(ordered, func(i, j int) bool {
		a, b := ordered[i].Shard, ordered[j].Shard
		return a != nil && (b == nil || a.Index < b.Index)
	})
	for _, s := range ordered {
		if s.Start == nil {
			m.Unknown = append(m.Unknown, Unknown{What: s.Name, Why: "the stream has no run_start event: the shard ended before its run started"})
			continue
		}
		if first == nil {
			first = s
			m.Mode = s.Start.Mode
			m.Run = &RunID{}
			if s.Start.Run != nil {
				m.Run.Playbook, m.Run.Inventory = s.Start.Run.Playbook, s.Start.Run.Inventory
			}
		}
		id := s.Start.Run
		if id == nil {
			id = &RunID{}
		}
		switch {
		case s.Start.Mode != m.Mode:
			return nil, fmt.Errorf("%s ran tend %s, %s tend %s: merge the shards of one run", s.Name, s.Start.Mode, first.Name, m.Mode)
		case id.Playbook != m.Run.Playbook:
			return nil, fmt.Errorf("%s ran another playbook than %s (their files' digests differ): merge the shards of one run", s.Name, first.Name)
		case id.Inventory != m.Run.Inventory:
			return nil, fmt.Errorf("%s ran with another inventory than %s (their files' digests differ): merge the shards of one run", s.Name, first.Name)
		}
		if s.Shard != nil {
			if count == 0 {
				count = s.Shard.Count
			}
			if s.Shard.Count != count {
				return nil, fmt.Errorf("%s is shard %s, another stream one of %d: merge the shards of one run", s.Name, s.Shard, count)
			}
			if other, dup := byIndex[s.Shard.Index]; dup {
				return nil, fmt.Errorf("%s and %s are both shard %s", other, s.Name, s.Shard)
			}
			byIndex[s.Shard.Index] = s.Name
		}
		for _, h := range s.Start.Hosts {
			if other, dup := hostIn[h]; dup {
				return nil, fmt.Errorf("host %s is in both %s and %s: the streams overlap", h, other, s.Name)
			}
			hostIn[h] = s.Name
		}
		m.Hosts = append(m.Hosts, s.Start.Hosts...)
		if s.Recap == nil {
			m.Unknown = append(m.Unknown, Unknown{What: s.Name, Why: "the stream ends before its recap: the shard did not finish, or its output was cut", Hosts: s.Start.Hosts})
			continue
		}
		for _, r := range s.Recap.Recap {
			m.Recaps = append(m.Recaps, HostRecap{
				Host: r.Host, OK: r.OK, Changed: r.Changed, Failed: r.Failed, Skipped: r.Skipped, Ignored: r.Ignored,
				Unreachable: r.Unreachable, Interrupted: r.Interrupted, Internal: r.Internal, NotStarted: r.NotStarted,
				Reverted: r.Reverted, RevertError: r.RevertError, Error: r.Error,
				Duration: time.Duration(r.DurationMS) * time.Millisecond, RoundTrips: r.RoundTrips,
				Drilled: r.Drilled, Recovery: time.Duration(r.RecoveryMS) * time.Millisecond,
			})
		}
	}
	if first == nil {
		return nil, fmt.Errorf("no stream has a run_start event: %s", names(streams))
	}
	// By name: a host is found in a recap of many thousands.
	slices.Sort(m.Hosts)
	sort.SliceStable(m.Recaps, func(i, j int) bool { return m.Recaps[i].Host < m.Recaps[j].Host })
	for i := range count {
		if _, ok := byIndex[i]; !ok {
			m.Unknown = append(m.Unknown, Unknown{What: fmt.Sprintf("shard %d/%d", i, count), Why: "no stream was given for it"})
		}
	}
	return m, nil
}

// onHosts names at most five hosts and counts the rest.
func onHosts(hosts []string) string {
	const show = 5
	names := strings.Join(hosts[:min(show, len(hosts))], ", ")
	if len(hosts) > show {
		names += fmt.Sprintf(" and %d more", len(hosts)-show)
	}
	return fmt.Sprintf("%s: %s", plural(len(hosts), "host"), names)
}

func names(streams []*Stream) string {
	var n []string
	for _, s := range streams {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

// Emit sends the merged run to sink as a run of its own: run_start with
// every host, a run_note for each part whose outcome is unknown, then the
// recap of the shards that finished; now stamps the events.
func (m *Merged) Emit(sink Sink, now time.Time) {
	sink.Emit(Event{Type: EventRunStart, Time: now, Mode: m.Mode, Hosts: m.Hosts, Run: m.Run})
	for _, u := range m.Unknown {
		msg := fmt.Sprintf("outcome unknown: %s: %s", u.What, u.Why)
		if len(u.Hosts) > 0 {
			msg += fmt.Sprintf(" (%s)", onHosts(u.Hosts))
		}
		sink.Emit(Event{Type: EventRunNote, Time: now, Mode: m.Mode, Message: msg})
	}
	sink.Emit(Event{Type: EventRecap, Time: now, Mode: m.Mode, Recap: m.Recaps})
}
