// Command tend keeps a fleet of Linux servers in a declared state over SSH:
// HCL playbooks and inventories, a read-only plan that shows the diff, and an
// apply that changes only what differs, restarts only on change and checks
// the service's health afterwards.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(runCLI(ctx, os.Args[1:]))
}

// runCLI executes the command line and returns the process exit code.
func runCLI(ctx context.Context, args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ex *exitError
	if errors.As(err, &ex) {
		if ex.msg != "" {
			fmt.Fprintln(os.Stderr, "tend:", ex.msg)
		}
		return ex.code
	}
	// Cobra's own errors are bad flags or arguments: invalid input.
	fmt.Fprintln(os.Stderr, "tend:", err)
	return ExitInvalid
}
