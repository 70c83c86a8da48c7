package main

import (
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"golang.org/x/term"

	"github.com/tend-sh/tend/executor/report"
)

// progressDelay is how long a run lasts before its progress line appears
// (report.ProgressOptions.Delay: 0 is the default, 2s; tests set -1).
var progressDelay time.Duration

// terminalFile returns the file behind tend's stdout when it is a
// terminal. Tests replace it to give a fake terminal.
var terminalFile = func(w io.Writer) (*os.File, bool) {
	if o, ok := w.(*outputWriter); ok {
		w = o.w
	}
	f, ok := w.(*os.File)
	if !ok || !(isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		return nil, false
	}
	return f, true
}

// runSink returns where a run's events go, writing to w (stdout), and what
// to call once the run is over.
//
// On a terminal, human output gets a live progress line at its bottom
// once the run lasts more than two seconds. The line is written to stdout
// itself, the stream the hosts' blocks go to, so that one writer erases
// and redraws it around every block; it is never drawn when stdout is not
// a terminal (a pipe, a file), with --json, or with TERM=dumb (which
// cannot erase a line). NO_COLOR and --no-color turn colour off, not the
// line.
func (g *globalFlags) runSink(w io.Writer) (report.Sink, func()) {
	f, tty := terminalFile(w)
	if g.json || !tty || os.Getenv("TERM") == "dumb" {
		return g.sink(w), func() {}
	}
	width := func() int {
		if f == nil {
			return 0
		}
		cols, _, err := term.GetSize(int(f.Fd()))
		if err != nil {
			return 0
		}
		return cols
	}
	p := report.NewProgress(w, report.ProgressOptions{Delay: progressDelay, Width: width})
	liveLine.Store(p)
	return p.Wrap(report.NewHumanSink(p, g.useColor(w))), func() {
		p.Close()
		liveLine.CompareAndSwap(p, nil)
	}
}

// liveLine is the progress line of the run under way, if any.
var liveLine atomic.Pointer[report.Progress]

// asideLine writes to w (stderr) and, while a progress line is on the
// terminal, erases it first, so that a message written during the run
// (Ctrl-C's) is not glued to it nor left under a stale copy of it.
type asideLine struct{ w io.Writer }

func (a asideLine) Write(b []byte) (int, error) {
	if p := liveLine.Load(); p != nil {
		return p.Aside(a.w).Write(b)
	}
	return a.w.Write(b)
}
