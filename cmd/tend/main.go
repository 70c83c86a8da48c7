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
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(runCLI(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// runCLI executes the command line and returns the process exit code.
func runCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ex *exitError
	if errors.As(err, &ex) {
		if ex.msg != "" {
			fmt.Fprintln(stderr, "tend:", ex.msg)
		}
		return ex.code
	}
	// Cobra's own errors are bad flags or arguments: invalid input.
	fmt.Fprintln(stderr, "tend:", err)
	return ExitInvalid
}
