// Command fleet boots throwaway fleets of real Debian hosts (systemd-nspawn
// containers, each in its own network namespace, running systemd and
// OpenSSH) for tend's end-to-end tests, demos and benchmarks.
//
// Usage:
//
//	fleet build [-cache DIR] [-prune 24h]
//	fleet run [-n 3] [-name NAME] [-user deploy] [-cache DIR] [-workdir DIR] [-timeout 60s] -- COMMAND [ARG...]
//	fleet cleanup [-prefix tf]
//
// build builds (or finds) the cached base root and prints its path; with
// -prune it also removes the roots of other recipes left unused that long.
//
// run boots the fleet, writes inventory.hcl (tend), ansible.ini, known_hosts
// and client_key into the fleet directory, runs COMMAND with these variables
// set, tears the fleet down (also on SIGINT, SIGTERM or SIGHUP) and exits
// with COMMAND's exit status:
//
//	TEND_FLEET_DIR                the fleet directory
//	TEND_FLEET_INVENTORY          inventory.hcl
//	TEND_FLEET_ANSIBLE_INVENTORY  ansible.ini
//	TEND_FLEET_KEY                the client private key
//	TEND_FLEET_KNOWN_HOSTS        the known_hosts file
//	TEND_FLEET_HOSTS              the hosts' addresses, space-separated
//	TEND_FLEET_SUDO_PASSWORD      the sudo password of user ops
//
// cleanup removes what crashed fleets whose name starts with the prefix left
// behind; fleets that are still running are left alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tend-sh/tend/test/fleet"
)

func main() {
	os.Exit(mainErr(os.Args[1:]))
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  fleet build [-cache DIR] [-prune 24h]
  fleet run [-n 3] [-name NAME] [-user deploy] [-cache DIR] [-workdir DIR] [-timeout 60s] -- COMMAND [ARG...]
  fleet cleanup [-prefix tf]`)
}

func mainErr(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "build":
		return cmdBuild(args[1:])
	case "run":
		return cmdRun(args[1:])
	case "cleanup":
		return cmdCleanup(args[1:])
	case "-h", "-help", "--help", "help":
		usage()
		return 0
	}
	usage()
	return 2
}

func cmdBuild(args []string) int {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	cache := fs.String("cache", fleet.DefaultCacheDir, "directory of cached base roots")
	prune := fs.Duration("prune", 0, "also remove base roots of other recipes unused for this long (e.g. 24h)")
	_ = fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	root, err := fleet.BaseRoot(ctx, *cache, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		return 1
	}
	fmt.Println(root)
	if *prune > 0 {
		removed, err := fleet.PruneCache(*cache, *prune)
		for _, r := range removed {
			fmt.Fprintln(os.Stderr, "fleet: removed", r)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			return 1
		}
	}
	return 0
}

func cmdCleanup(args []string) int {
	fs := flag.NewFlagSet("cleanup", flag.ExitOnError)
	prefix := fs.String("prefix", "tf", "remove leftovers of fleets whose name starts with this")
	_ = fs.Parse(args)
	if err := fleet.Cleanup(*prefix); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		return 1
	}
	return 0
}

func cmdRun(args []string) int {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	n := fs.Int("n", 3, "number of hosts (1-16)")
	name := fs.String("name", "", "fleet name (default: derived from the pid)")
	user := fs.String("user", "deploy", "login user written into the inventories")
	cache := fs.String("cache", fleet.DefaultCacheDir, "directory of cached base roots")
	workdir := fs.String("workdir", "", "fleet state directory (default /var/tmp/tend-fleet/NAME)")
	timeout := fs.Duration("timeout", fleet.DefaultBootTimeout, "how long to wait for the hosts to boot")
	_ = fs.Parse(args)
	command := fs.Args()
	if len(command) == 0 {
		fmt.Fprintln(os.Stderr, "fleet run: no command given (fleet run -n 3 -- COMMAND ARGS...)")
		return 2
	}

	// Signals cancel the boot; once the command runs they are forwarded to it.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	caught := make(chan os.Signal, 1)
	booting := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "fleet: %v, tearing down\n", s)
			caught <- s
			cancel()
		case <-booting:
		}
	}()

	f, err := fleet.Up(ctx, fleet.Options{
		Hosts: *n, Name: *name, CacheDir: *cache, WorkDir: *workdir, Log: os.Stderr, BootTimeout: *timeout,
	})
	close(booting)
	var sig os.Signal
	select {
	case sig = <-caught:
	default:
	}
	if err != nil || sig != nil {
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
		}
		if derr := f.Down(); derr != nil {
			fmt.Fprintln(os.Stderr, "fleet: teardown:", derr)
		}
		if s, ok := sig.(syscall.Signal); ok {
			return 128 + int(s)
		}
		return 1
	}
	defer func() {
		start := time.Now()
		if err := f.Down(); err != nil {
			fmt.Fprintln(os.Stderr, "fleet: teardown:", err)
			return
		}
		fmt.Fprintf(os.Stderr, "fleet: %s torn down in %s\n", f.Name, time.Since(start).Round(10*time.Millisecond))
	}()
	code, err := runCommand(f, *user, command, sigs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
	}
	return code
}

// runCommand writes the fleet's files, runs command with the TEND_FLEET_*
// variables, forwards signals to it and returns its exit status.
func runCommand(f *fleet.Fleet, user string, command []string, sigs <-chan os.Signal) (int, error) {
	inv := filepath.Join(f.Dir, "inventory.hcl")
	ini := filepath.Join(f.Dir, "ansible.ini")
	if err := f.WriteTendInventory(inv, user); err != nil {
		return 1, err
	}
	if err := f.WriteAnsibleInventory(ini, user); err != nil {
		return 1, err
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"TEND_FLEET_DIR="+f.Dir,
		"TEND_FLEET_INVENTORY="+inv,
		"TEND_FLEET_ANSIBLE_INVENTORY="+ini,
		"TEND_FLEET_KEY="+f.ClientKey,
		"TEND_FLEET_KNOWN_HOSTS="+f.KnownHosts,
		"TEND_FLEET_HOSTS="+strings.Join(f.Addresses(), " "),
		"TEND_FLEET_SUDO_PASSWORD="+f.SudoPassword,
	)
	if err := cmd.Start(); err != nil {
		return 127, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	var killAt <-chan time.Time
wait:
	for {
		select {
		case err = <-done:
			break wait
		case s := <-sigs:
			// A terminal's Ctrl-C reaches the command too; a kill(1) may not.
			fmt.Fprintf(os.Stderr, "fleet: %v, stopping %s\n", s, command[0])
			_ = cmd.Process.Signal(s)
			if killAt == nil {
				killAt = time.After(10 * time.Second)
			}
		case <-killAt:
			_ = cmd.Process.Kill()
		}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}
