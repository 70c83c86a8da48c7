// Command tend keeps a fleet of Linux servers in a declared state over SSH:
// HCL playbooks and inventories, a read-only plan that shows the diff, and an
// apply that changes only what differs, restarts only on change and checks
// the service's health afterwards.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupts(cancel, asideLine{os.Stderr})
	stop := profile(os.Getenv("TEND_CPUPROFILE"), os.Getenv("TEND_MEMPROFILE"))
	stopPeak := peakProfile(os.Getenv("TEND_PEAKPROFILE"), 50*time.Millisecond, os.Stderr)
	code := runCLI(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopPeak()
	stop()
	os.Exit(code)
}

// profile starts a CPU profile written to cpuFile and arranges a heap
// profile written to memFile when the returned function is called (either
// empty: none). For measuring tend itself (TEND_CPUPROFILE,
// TEND_MEMPROFILE; undocumented, like GODEBUG); failures are reported and
// otherwise ignored.
func profile(cpuFile, memFile string) (stop func()) {
	var cpu *os.File
	if cpuFile != "" {
		f, err := os.Create(cpuFile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "tend: TEND_CPUPROFILE: %v\n", err)
		} else {
			cpu = f
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if memFile != "" {
			f, err := os.Create(memFile)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "tend: TEND_MEMPROFILE: %v\n", err)
			}
		}
	}
}

// interrupts handles Ctrl-C and SIGTERM: the first one cancels the run
// (no new work starts, running remote commands are stopped on their hosts
// within about two seconds, then the recap is printed); a second one exits
// at once.
func interrupts(cancel context.CancelFunc, stderr io.Writer) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(stderr, "\ntend: interrupted: stopping the commands running on the hosts (press Ctrl-C again to exit at once)")
		cancel()
		<-sigs
		fmt.Fprintln(stderr, "tend: interrupted twice: exiting now; commands still running on the hosts stop by themselves when the connection closes")
		os.Exit(ExitInterrupted)
	}()
}

// runCLI executes the command line and returns the process exit code.
func runCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := &outputWriter{w: stdout}
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(stderr)
	ran, err := root.ExecuteContextC(ctx)
	code := ExitOK
	if err != nil {
		// Cobra's own errors are bad flags or arguments: invalid input.
		msg := err.Error()
		code = ExitInvalid
		var ex *exitError
		var ce *checkError
		switch {
		case errors.As(err, &ex):
			code, msg = ex.code, ex.msg
		case errors.As(err, &ce):
			code, msg = ce.code, ce.msg
		}
		if msg != "" {
			fmt.Fprintln(stderr, "tend:", msg)
		}
	}
	// Output that could not be written is tend failing at its job, whatever
	// the run's outcome was: nobody saw the plan or the recap.
	werr := out.Err()
	if werr != nil {
		fmt.Fprintf(stderr, "tend: cannot write the output: %v\n", werr)
		code = ExitInternal
	}
	if ran != nil && ran.Name() == "check" && ran.Parent() == root {
		// A monitoring plugin's exit codes.
		return checkExitCode(code, err, werr != nil)
	}
	return code
}

// outputWriter passes writes to w and keeps the first error, so that a
// failed write (a full disk, say) makes tend exit 1 even where the
// writer's user — the report sinks — ignores write errors.
type outputWriter struct {
	w   io.Writer
	mu  sync.Mutex
	err error
}

func (o *outputWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		o.mu.Lock()
		if o.err == nil {
			o.err = err
		}
		o.mu.Unlock()
	}
	return n, err
}

// Err returns the first write error.
func (o *outputWriter) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}
