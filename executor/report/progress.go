package report

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// The terminal sequences the progress line uses: back to the start of the
// line, and erase to its end.
const (
	eraseLine = "\r\x1b[K"
)

// ProgressOptions configure a Progress. The zero value is what a terminal
// gets; tests pin the clock and drive the ticks.
type ProgressOptions struct {
	// Delay is how long a run lasts before the line appears; 2s when zero,
	// none when negative.
	Delay time.Duration
	// Interval is the shortest time between two redraws caused by output,
	// and the period of the ticker; 100ms when zero.
	Interval time.Duration
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Tick, when set, replaces the ticker: each value received is a tick.
	Tick <-chan time.Time
	// Width returns the terminal's width in columns (0 when unknown); the
	// line is cut to fit, so that it never wraps.
	Width func() int
}

// Progress is a live progress line at the bottom of a terminal, for runs
// that last more than a moment: "[12/40 hosts] ok 9 · changed 2 · failed 1
// · unreachable 0 · 00:07".
//
// It is the one writer of the terminal's output: every other write goes
// through Write, which erases the line, writes, and draws the line again
// under it, all in one write under one mutex, so that the line never
// garbles a host's block. Wrap gives it the run's events to count; the
// recap event removes it for good, before the recap is written. Close
// stops its ticker goroutine; it must be called.
type Progress struct {
	mu       sync.Mutex
	w        io.Writer
	opts     ProgressOptions
	start    time.Time
	mode     string
	total    int
	counts   progressCounts
	line     string // the line as drawn; "" when it is not on screen
	lastDraw time.Time
	stopped  bool

	stop   chan struct{}
	exited chan struct{}
	once   sync.Once
}

type progressCounts struct {
	done, ok, changed, failed, unreachable, notStarted int
}

// NewProgress returns a progress line writing to w (a terminal), and
// starts its ticker.
func NewProgress(w io.Writer, opts ProgressOptions) *Progress {
	if opts.Delay == 0 {
		opts.Delay = 2 * time.Second
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Progress{w: w, opts: opts, start: opts.Now(), stop: make(chan struct{}), exited: make(chan struct{})}
	tick := opts.Tick
	var ticker *time.Ticker
	if tick == nil {
		ticker = time.NewTicker(opts.Interval)
		tick = ticker.C
	}
	go func() {
		defer close(p.exited)
		if ticker != nil {
			defer ticker.Stop()
		}
		for {
			select {
			case <-p.stop:
				return
			case <-tick:
				p.Tick()
			}
		}
	}()
	return p
}

// Write writes b to the terminal, in one write: the line is erased first,
// and drawn again after b when b ends a line and the last draw is at least
// an interval old (otherwise a later tick draws it).
func (p *Progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.opts.Now()
	if p.line == "" && !p.active(now) {
		return p.w.Write(b)
	}
	out := make([]byte, 0, len(eraseLine)+len(b)+80)
	if p.line != "" {
		out = append(out, eraseLine...)
		p.line = ""
	}
	out = append(out, b...)
	if len(b) > 0 && b[len(b)-1] == '\n' && p.active(now) && now.Sub(p.lastDraw) >= p.opts.Interval {
		p.line = p.text(now)
		p.lastDraw = now
		out = append(out, p.line...)
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Aside returns a writer to another stream on the same terminal (stderr):
// each write first erases the line, under the same mutex as the line's own
// writes; a later tick draws the line again, under what was written.
func (p *Progress) Aside(w io.Writer) io.Writer {
	return asideWriter{p: p, w: w}
}

type asideWriter struct {
	p *Progress
	w io.Writer
}

func (a asideWriter) Write(b []byte) (int, error) {
	a.p.mu.Lock()
	defer a.p.mu.Unlock()
	if a.p.line != "" {
		a.p.line = ""
		_, _ = io.WriteString(a.p.w, eraseLine)
	}
	return a.w.Write(b)
}

// Tick draws the line when the run has lasted long enough, the line is not
// on screen or says something else now (the elapsed time, counts), and the
// last draw is at least an interval old: the line is drawn at most once an
// interval. The ticker calls it; tests may too.
func (p *Progress) Tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.opts.Now()
	if !p.active(now) {
		return
	}
	text := p.text(now)
	if text == p.line || now.Sub(p.lastDraw) < p.opts.Interval {
		return
	}
	out := text
	if p.line != "" {
		out = eraseLine + text
	}
	p.line = text
	p.lastDraw = now
	_, _ = io.WriteString(p.w, out)
}

// active reports whether the line is to be shown at now: a run has
// started, is not over, and has lasted the delay.
func (p *Progress) active(now time.Time) bool {
	return !p.stopped && p.total > 0 && now.Sub(p.start) >= p.opts.Delay
}

// text is the line at now, cut to the terminal's width.
func (p *Progress) text(now time.Time) string {
	c := p.counts
	changed := "changed"
	if p.mode == "plan" {
		changed = "to change"
	}
	s := fmt.Sprintf("[%d/%d hosts] ok %d · %s %d · failed %d · unreachable %d", c.done, p.total, c.ok, changed, c.changed, c.failed, c.unreachable)
	if c.notStarted > 0 {
		s += fmt.Sprintf(" · not started %d", c.notStarted)
	}
	s += " · " + elapsed(now.Sub(p.start))
	if p.opts.Width != nil {
		if w := p.opts.Width(); w > 1 {
			if r := []rune(s); len(r) >= w {
				s = string(r[:w-1])
			}
		}
	}
	return s
}

// elapsed formats a duration as mm:ss, or h:mm:ss from an hour on.
func elapsed(d time.Duration) string {
	sec := int(d / time.Second)
	if sec >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	return fmt.Sprintf("%02d:%02d", sec/60, sec%60)
}

// observe counts an event: the run's hosts, each host as it is done. The
// recap ends the line: it is erased, and never drawn again.
func (p *Progress) observe(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Type {
	case EventRunStart:
		p.mode = e.Mode
		p.total = len(e.Hosts)
	case EventHostDone:
		c := &p.counts
		c.done++
		r := first(e.Recap)
		switch {
		case r == nil:
			c.ok++
		case r.NotStarted:
			c.notStarted++
		case r.Unreachable:
			c.unreachable++
		case r.Failed > 0:
			c.failed++
		case r.Changed > 0:
			c.changed++
		default:
			c.ok++
		}
	case EventRecap:
		p.end()
	}
}

// end erases the line and keeps it off; p.mu is held.
func (p *Progress) end() {
	p.stopped = true
	if p.line != "" {
		p.line = ""
		_, _ = io.WriteString(p.w, eraseLine)
	}
}

// Wrap returns a sink that counts each event, then passes it to next (the
// sink that writes through p).
func (p *Progress) Wrap(next Sink) Sink {
	return SinkFunc(func(e Event) {
		p.observe(e)
		next.Emit(e)
	})
}

// Close removes the line and stops the ticker goroutine, waiting for it
// to return. It may be called more than once.
func (p *Progress) Close() {
	p.once.Do(func() {
		p.mu.Lock()
		p.end()
		p.mu.Unlock()
		close(p.stop)
		<-p.exited
	})
}
