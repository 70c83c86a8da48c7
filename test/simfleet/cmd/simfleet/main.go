// Command simfleet runs a simulated fleet of converged hosts (package
// test/simfleet) as a process of its own, so that its CPU is not counted as
// the controller's, and records what a real host answers.
//
// Usage:
//
//	simfleet serve -hosts N -recording FILE -dir DIR [-delay 0] [-net 127.77.0] [-port 2222] [-cpuprofile FILE]
//	simfleet record -upstream HOST:PORT -user USER -key FILE -known-hosts FILE -out FILE -dir DIR -- COMMAND [ARG...]
//
// serve starts N hosts answering from the recording, writes inventory.hcl,
// known_hosts and client_key into DIR, prints "ready N" on standard output
// and serves until its standard input closes or it gets SIGINT or SIGTERM;
// it then prints how many commands had no recorded answer on standard
// error, and exits 3 if any had none.
//
// record starts a recording proxy in front of the real host HOST:PORT,
// writes an inventory for it into DIR, runs COMMAND with SIMFLEET_INVENTORY
// set to it (e.g. a no-op tend apply), and writes the recorded exchanges to
// FILE.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tend-sh/tend/test/simfleet"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "record":
		err = record(os.Args[2:])
	default:
		usage()
	}
	if err == errMisses {
		os.Exit(3)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "simfleet:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  simfleet serve -hosts N -recording FILE -dir DIR [-delay 0] [-net 127.77.0] [-port 2222] [-cpuprofile FILE]
  simfleet record -upstream HOST:PORT -user USER -key FILE -known-hosts FILE -out FILE -dir DIR -- COMMAND [ARG...]`)
	os.Exit(2)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	hosts := fs.Int("hosts", 100, "number of hosts")
	recFile := fs.String("recording", "test/simfleet/testdata/staffrota-noop.json", "recording to answer from")
	dir := fs.String("dir", "", "directory for inventory.hcl, known_hosts and client_key")
	delay := fs.Duration("delay", 0, "delay before each command's answer")
	netPrefix := fs.String("net", "127.77.0", "first three octets of the hosts' addresses")
	port := fs.Int("port", 2222, "the hosts' SSH port")
	cpuProfile := fs.String("cpuprofile", os.Getenv("SIMFLEET_CPUPROFILE"), "write a CPU profile of the simulator to this file (default $SIMFLEET_CPUPROFILE)")
	fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("serve: -dir is required")
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			pf.Close()
		}()
	}
	if err := simfleet.RaiseFileLimit(); err != nil {
		return err
	}
	// The simulator stands in for hosts with CPUs of their own: it trades
	// memory (not measured) for CPU (which the controller's measurement
	// shares), collecting garbage a quarter as often as Go would, unless
	// GOGC says otherwise. Each collection also scans the stacks of the
	// fleet's listeners, one goroutine each.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	rec, err := simfleet.Load(*recFile)
	if err != nil {
		return err
	}
	f, err := simfleet.Start(simfleet.Options{Hosts: *hosts, Recording: rec, Delay: *delay, Net: *netPrefix, Port: *port})
	if err != nil {
		return err
	}
	if _, err := simfleet.WriteClient(*dir, f.Addrs, f.HostKey); err != nil {
		f.Close()
		return err
	}
	fmt.Printf("ready %d\n", len(f.Addrs))
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-stop:
	case <-eof:
	}
	f.Close()
	fmt.Fprintf(os.Stderr, "simfleet: %d command(s) without a recorded answer\n", f.Misses())
	if f.Misses() > 0 {
		return errMisses
	}
	return nil
}

// errMisses makes serve exit 3 (after its deferred work, e.g. the profile).
var errMisses = fmt.Errorf("some commands had no recorded answer")

func record(args []string) error {
	fs := flag.NewFlagSet("record", flag.ExitOnError)
	upstream := fs.String("upstream", "", "the real host, HOST:PORT")
	user := fs.String("user", "deploy", "login user on the real host")
	keyFile := fs.String("key", "", "private key for the real host")
	kh := fs.String("known-hosts", "", "known_hosts file with the real host's key")
	out := fs.String("out", "", "recording to write")
	dir := fs.String("dir", "", "directory for the proxy's inventory.hcl, known_hosts and client_key")
	note := fs.String("note", "", "note stored in the recording")
	fs.Parse(args)
	if *upstream == "" || *keyFile == "" || *kh == "" || *out == "" || *dir == "" || fs.NArg() == 0 {
		usage()
	}
	pem, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	key, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyFile, err)
	}
	p, err := simfleet.StartProxy(*upstream, *user, key, *kh)
	if err != nil {
		return err
	}
	c, err := simfleet.WriteClient(*dir, []string{p.Addr}, p.HostKey)
	if err != nil {
		return err
	}
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "SIMFLEET_INVENTORY="+c.Inventory)
	start := time.Now()
	runErr := cmd.Run()
	rec := p.Close()
	if runErr != nil {
		return fmt.Errorf("%s: %w (nothing written)", fs.Arg(0), runErr)
	}
	rec.Note = *note
	if rec.Note == "" {
		rec.Note = fmt.Sprintf("recorded from %s in %s", *upstream, time.Since(start).Round(time.Millisecond))
	}
	return rec.Save(*out)
}
