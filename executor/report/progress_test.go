package report

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)} }
func hostDone(mode, host string, r HostRecap) Event {
	r.Host = host
	return Event{Type: EventHostDone, Mode: mode, Host: host, Recap: []HostRecap{r}}
}

// writeLog records each write to the terminal as one line, quoted, so the
// golden file shows every erase and redraw.
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

func (l *writeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, string(p))
	return len(p), nil
}

func (l *writeLog) String() string {
	var b strings.Builder
	for _, w := range l.writes {
		fmt.Fprintf(&b, "%q\n", w)
	}
	return b.String()
}

// TestProgressGolden drives the line with a fake clock and explicit ticks
// through a plan of three hosts: nothing before 2s, then the line at the
// bottom, erased before each host's block and drawn again after it (or by
// the next tick when the last draw is too recent), and erased for good
// before the recap.
func TestProgressGolden(t *testing.T) {
	clock := newFakeClock()
	log := &writeLog{}
	p := NewProgress(log, ProgressOptions{Now: clock.now, Tick: make(chan time.Time), Width: func() int { return 200 }})
	defer p.Close()
	human := NewHumanSink(p, false)
	human.ShowDurations = false
	sink := p.Wrap(human)
	mark := func(what string) { log.writes = append(log.writes, "# "+what) }

	mark("start")
	sink.Emit(Event{Type: EventRunStart, Mode: "plan", Hosts: []string{"web1", "web2", "web3"}})
	clock.add(time.Second)
	mark("tick at 1s: too early")
	p.Tick()
	sink.Emit(Event{Type: EventTask, Mode: "plan", Host: "web1", Task: "file.a", Status: StatusOK})
	sink.Emit(hostDone("plan", "web1", HostRecap{OK: 1}))
	clock.add(1500 * time.Millisecond)
	mark("tick at 2.5s: drawn")
	p.Tick()
	mark("tick again, nothing new: not drawn again")
	p.Tick()
	clock.add(50 * time.Millisecond)
	mark("web2 done 50ms after the draw: erased, block, not drawn yet")
	sink.Emit(Event{Type: EventTask, Mode: "plan", Host: "web2", Task: "file.a", Status: StatusChange, Diff: nil})
	sink.Emit(hostDone("plan", "web2", HostRecap{Changed: 1}))
	mark("tick at once: not drawn (the last draw is 50ms old)")
	p.Tick()
	clock.add(50 * time.Millisecond)
	mark("tick 100ms after the last draw: drawn")
	p.Tick()
	clock.add(time.Second)
	mark("tick a second later: redrawn (elapsed)")
	p.Tick()
	clock.add(time.Second)
	mark("web3 unreachable: erased, block, redrawn")
	sink.Emit(Event{Type: EventHostDone, Mode: "plan", Host: "web3", Message: "connect: refused", Recap: []HostRecap{{Host: "web3", Unreachable: true}}})
	mark("recap: erased for good, then the recap")
	sink.Emit(Event{Type: EventRecap, Mode: "plan", Recap: []HostRecap{{Host: "web1", OK: 1}, {Host: "web2", Changed: 1}, {Host: "web3", Unreachable: true}}})
	clock.add(time.Second)
	mark("tick and close after the recap: nothing")
	p.Tick()
	p.Close()
	golden(t, "progress.golden", log.String())
}

// TestProgressText covers the line's words: plan says "to change", hosts
// the rollout never started are counted when there are any, the line is
// cut to the terminal's width, and an hour-long run shows hours.
func TestProgressText(t *testing.T) {
	tests := []struct {
		name  string
		mode  string
		done  []HostRecap
		after time.Duration
		width int
		want  string
	}{
		{"apply", "apply", []HostRecap{{OK: 1}, {Changed: 2}, {Failed: 1, Changed: 1}, {Unreachable: true}}, 7 * time.Second, 0,
			"[4/5 hosts] ok 1 · changed 1 · failed 1 · unreachable 1 · 00:07"},
		{"plan", "plan", []HostRecap{{Changed: 1}}, 65 * time.Second, 0,
			"[1/5 hosts] ok 0 · to change 1 · failed 0 · unreachable 0 · 01:05"},
		{"not started", "apply", []HostRecap{{Failed: 1}, {NotStarted: true}}, 3*time.Hour + 2*time.Second, 0,
			"[2/5 hosts] ok 0 · changed 0 · failed 1 · unreachable 0 · not started 1 · 3:00:02"},
		{"narrow", "apply", nil, 2 * time.Second, 12, "[0/5 hosts]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			var out bytes.Buffer
			p := NewProgress(&out, ProgressOptions{Now: clock.now, Tick: make(chan time.Time), Width: func() int { return tt.width }})
			defer p.Close()
			p.observe(Event{Type: EventRunStart, Mode: tt.mode, Hosts: []string{"a", "b", "c", "d", "e"}})
			for i, r := range tt.done {
				p.observe(hostDone(tt.mode, fmt.Sprint(i), r))
			}
			clock.add(tt.after)
			p.Tick()
			if got := out.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// progressLine matches a drawn line and the erase that follows it.
var progressLine = regexp.MustCompile(`\[\d+/\d+ hosts\][^\n\r]*\r\x1b\[K`)

// TestProgressNeverGarblesBlocks runs hosts in parallel through the real
// ticker (every millisecond, no delay): once the drawn lines and their
// erases are taken out, the output is exactly the hosts' blocks, each in
// one piece, and the recap; the line is gone at the end.
func TestProgressNeverGarblesBlocks(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	w := writerFunc(func(b []byte) { mu.Lock(); out.Write(b); mu.Unlock() })
	p := NewProgress(w, ProgressOptions{Delay: -1, Interval: time.Millisecond})
	human := NewHumanSink(p, false)
	human.ShowDurations = false
	sink := p.Wrap(human)
	const hosts, tasks = 8, 20
	var names []string
	for h := range hosts {
		names = append(names, fmt.Sprintf("h%d", h))
	}
	sink.Emit(Event{Type: EventRunStart, Mode: "plan", Hosts: names})
	var wg sync.WaitGroup
	for _, h := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range tasks {
				sink.Emit(Event{Type: EventTask, Mode: "plan", Host: h, Task: fmt.Sprintf("file.t%02d", i), Status: StatusOK})
				time.Sleep(100 * time.Microsecond)
			}
			sink.Emit(hostDone("plan", h, HostRecap{OK: tasks}))
		}()
	}
	wg.Wait()
	var recaps []HostRecap
	for _, h := range names {
		recaps = append(recaps, HostRecap{Host: h, OK: tasks})
	}
	sink.Emit(Event{Type: EventRecap, Mode: "plan", Recap: recaps})
	p.Close()

	mu.Lock()
	raw := out.String()
	mu.Unlock()
	if !strings.Contains(raw, "\r\x1b[K") {
		t.Fatal("the line was never drawn and erased")
	}
	if strings.HasSuffix(raw, "\x1b[K") || !strings.HasSuffix(raw, "No changes: 8 hosts in sync.\n") {
		t.Fatalf("the output does not end with the recap: %q", raw[max(0, len(raw)-200):])
	}
	clean := progressLine.ReplaceAllString(raw, "")
	if strings.ContainsAny(clean, "\r\x1b") {
		t.Fatalf("a line was drawn and not erased, or garbled a block: %q", clean)
	}
	lines := strings.Split(clean, "\n")
	seen := map[string]bool{}
	prev := ""
	count := 0
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 || !strings.HasPrefix(f[2], "file.t") {
			continue
		}
		count++
		if f[0] != prev {
			if seen[f[0]] {
				t.Fatalf("%s's block is in more than one piece:\n%s", f[0], clean)
			}
			seen[f[0]] = true
			prev = f[0]
		}
	}
	if count != hosts*tasks {
		t.Fatalf("%d task lines, want %d:\n%s", count, hosts*tasks, clean)
	}
}

// TestProgressCloseStopsTicker: Close stops the ticker goroutine of every
// line (no leak), also for a run that never got to its recap. It watches
// each line's own goroutine rather than the process-wide goroutine count,
// which goroutines of earlier tests winding down make unreliable.
func TestProgressCloseStopsTicker(t *testing.T) {
	var ps []*Progress
	for range 20 {
		p := NewProgress(&bytes.Buffer{}, ProgressOptions{Delay: -1, Interval: time.Millisecond})
		p.observe(Event{Type: EventRunStart, Mode: "apply", Hosts: []string{"a"}})
		ps = append(ps, p)
	}
	time.Sleep(5 * time.Millisecond)
	for i, p := range ps {
		select {
		case <-p.exited:
			t.Fatalf("line %d: the ticker goroutine returned before Close", i)
		default:
		}
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for _, p := range ps {
			p.Close()
			p.Close() // twice is fine
		}
	}()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not return within 2s: the ticker goroutine does not stop")
	}
	for i, p := range ps {
		select {
		case <-p.exited:
		default:
			t.Fatalf("line %d: Close returned while its ticker goroutine still runs", i)
		}
	}
}

// TestProgressRate: however much output comes and however often it ticks,
// the line is drawn at most once per interval (100ms): a second of output
// every 10ms, with a tick every 10ms, draws it at most 11 times.
func TestProgressRate(t *testing.T) {
	clock := newFakeClock()
	log := &writeLog{}
	p := NewProgress(log, ProgressOptions{Now: clock.now, Tick: make(chan time.Time), Delay: -1})
	defer p.Close()
	p.observe(Event{Type: EventRunStart, Mode: "apply", Hosts: []string{"a"}})
	for i := range 100 {
		fmt.Fprintf(p, "line %d\n", i)
		p.Tick()
		clock.add(10 * time.Millisecond)
	}
	draws := strings.Count(strings.Join(log.writes, ""), "[0/1 hosts]")
	if draws < 5 || draws > 11 {
		t.Errorf("drawn %d times in a second, want at most 11 (and some)", draws)
	}
}

// TestProgressAside: a write to another stream of the terminal (stderr)
// erases the line first; the next tick draws it again under that write.
func TestProgressAside(t *testing.T) {
	clock := newFakeClock()
	var out, errOut writeLog
	p := NewProgress(&out, ProgressOptions{Now: clock.now, Tick: make(chan time.Time), Delay: -1})
	defer p.Close()
	p.observe(Event{Type: EventRunStart, Mode: "apply", Hosts: []string{"a"}})
	p.Tick()
	fmt.Fprintln(p.Aside(&errOut), "tend: interrupted")
	clock.add(time.Second)
	p.Tick()
	want := `"[0/1 hosts] ok 0 · changed 0 · failed 0 · unreachable 0 · 00:00"
"\r\x1b[K"
"[0/1 hosts] ok 0 · changed 0 · failed 0 · unreachable 0 · 00:01"
`
	if got := out.String(); got != want || errOut.String() != "\"tend: interrupted\\n\"\n" {
		t.Errorf("stdout:\n%s\nwant:\n%s\nstderr:\n%s", got, want, errOut.String())
	}
}
