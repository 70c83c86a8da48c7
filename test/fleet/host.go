package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SSH runs command on the host as user through /usr/bin/ssh with the fleet's
// client key and known_hosts file (batch mode, strict host key checking, a
// five-second connect timeout) and returns its standard output. A failure,
// including a non-zero exit status, is returned as an error that carries the
// command's standard error.
func (h *Host) SSH(ctx context.Context, user, command string) (string, error) {
	args := h.fleet.SSHArgs()
	if h.Behind != "" {
		// Through the bastion, as root there, with the same options.
		b := h.fleet.Host(h.Behind)
		proxy := append([]string{"/usr/bin/ssh"}, h.fleet.SSHArgs()...)
		proxy = append(proxy, "-W", "%h:%p", "-l", "root", b.Address)
		args = append(args, "-o", "ProxyCommand="+strings.Join(proxy, " "))
	}
	args = append(args, "-n", "-l", user, h.Address, "--", command)
	cmd := exec.CommandContext(ctx, "/usr/bin/ssh", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ssh %s@%s (%s) %q: %w: %s", user, h.Name, h.Address, command, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// prepare mounts the host's overlay, writes its per-host files and makes
// its network namespace and veth link.
func (h *Host) prepare(ctx context.Context) error {
	f := h.fleet
	upper, work := filepath.Join(h.Dir, "upper"), filepath.Join(h.Dir, "work")
	for _, d := range []string{upper, work, h.Root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", f.BaseRoot, upper, work)
	if err := syscall.Mount("overlay", h.Root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", h.Root, err)
	}
	if err := h.network(ctx); err != nil {
		return err
	}
	// Host keys of its own, which known_hosts will list. Not RSA: at over
	// half a second of CPU per key it would dominate the boot time, and
	// sshd_config.d/tend-fleet.conf names only these two.
	for _, t := range []string{"ed25519", "ecdsa"} {
		key := filepath.Join(h.Root, "etc/ssh/ssh_host_"+t+"_key")
		if _, err := run(ctx, "ssh-keygen", "-q", "-t", t, "-N", "", "-C", "root@"+h.Name, "-f", key); err != nil {
			return err
		}
		data, err := os.ReadFile(key + ".pub")
		if err != nil {
			return err
		}
		fields := strings.Fields(string(data))
		if len(fields) < 2 {
			return fmt.Errorf("bad host key %s", t)
		}
		h.HostKeys = append(h.HostKeys, fields[0]+" "+fields[1])
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	fmt.Fprintf(&hosts, "127.0.1.1\t%s\n", h.Name)
	for _, o := range f.Hosts {
		fmt.Fprintf(&hosts, "%s\t%s\n", o.Address, o.Name)
	}
	for name, content := range map[string]string{
		"etc/machine-id": hex.EncodeToString(id) + "\n",
		"etc/hostname":   h.Name + "\n",
		"etc/hosts":      hosts.String(),
	} {
		p := filepath.Join(h.Root, name)
		_ = os.Remove(p)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	pub, err := os.ReadFile(f.ClientKey + ".pub")
	if err != nil {
		return err
	}
	for _, user := range []string{"root", "deploy", "ops"} {
		if err := h.authorize(user, pub); err != nil {
			return err
		}
	}
	if _, err := runInput(ctx, strings.NewReader("ops:"+f.SudoPassword+"\n"), "chpasswd", "-R", h.Root); err != nil {
		return err
	}
	return nil
}

// authorize installs pub as user's authorized_keys inside the host.
func (h *Host) authorize(user string, pub []byte) error {
	uid, gid, home, err := lookupUser(filepath.Join(h.Root, "etc/passwd"), user)
	if err != nil {
		return err
	}
	dir := filepath.Join(h.Root, home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	file := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(file, pub, 0o600); err != nil {
		return err
	}
	for _, p := range []string{dir, file} {
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(file, 0o600)
}

// lookupUser finds uid, gid and home of user in a passwd file.
func lookupUser(passwd, user string) (uid, gid int, home string, err error) {
	data, err := os.ReadFile(passwd)
	if err != nil {
		return 0, 0, "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 7 && f[0] == user {
			uid, err1 := strconv.Atoi(f[2])
			gid, err2 := strconv.Atoi(f[3])
			if err1 != nil || err2 != nil {
				break
			}
			return uid, gid, f[5], nil
		}
	}
	return 0, 0, "", fmt.Errorf("no user %s in %s", user, passwd)
}

// network makes the host's namespace and the veth link into it, addressed
// from the host's /30. The host gets no default route: it can talk to this
// machine's end of its link and to nothing else.
func (h *Host) network(ctx context.Context) error {
	steps := [][]string{
		{"netns", "add", h.Netns},
		{"link", "add", h.Veth, "type", "veth", "peer", "name", "eth0", "netns", h.Netns},
		{"addr", "add", h.Gateway + "/30", "dev", h.Veth},
		{"link", "set", h.Veth, "up"},
		{"-n", h.Netns, "addr", "add", h.Address + "/30", "dev", "eth0"},
		{"-n", h.Netns, "link", "set", "eth0", "up"},
		{"-n", h.Netns, "link", "set", "lo", "up"},
	}
	for i, args := range steps {
		if _, err := run(ctx, "ip", args...); err != nil {
			return err
		}
		if i == 1 {
			// No IPv6 router solicitations or the like from our end.
			_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+h.Veth+"/disable_ipv6", []byte("1"), 0o644)
		}
	}
	return nil
}

// hide puts the booted host behind bastion (Options.Behind): its link to
// this machine goes down, with its address removed from its end, and a new
// veth link joins its namespace (eth1, the host's address) to the
// bastion's (bhN, the host's Gateway). This machine's end keeps the
// Gateway address, so the route to the host's /30 stays on the dead link:
// packets for the host go nowhere, never to a default route.
func (h *Host) hide(ctx context.Context, bastion *Host) error {
	peer := "b" + h.Name
	steps := [][]string{
		{"-n", h.Netns, "addr", "flush", "dev", "eth0"},
		{"-n", h.Netns, "link", "set", "eth0", "down"},
		{"-n", bastion.Netns, "link", "add", peer, "type", "veth", "peer", "name", "eth1", "netns", h.Netns},
		{"-n", bastion.Netns, "addr", "add", h.Gateway + "/30", "dev", peer},
		{"-n", bastion.Netns, "link", "set", peer, "up"},
		{"-n", h.Netns, "addr", "add", h.Address + "/30", "dev", "eth1"},
		{"-n", h.Netns, "link", "set", "eth1", "up"},
	}
	for _, args := range steps {
		if _, err := run(ctx, "ip", args...); err != nil {
			return fmt.Errorf("hiding behind %s: %w", bastion.Name, err)
		}
	}
	h.Behind = bastion.Name
	return nil
}

// spawnRequests feeds the spawner goroutine; see startProcess.
var spawnRequests = make(chan func())

func init() {
	// systemd-nspawn is started with a parent-death signal so that the
	// containers shut down if the process owning the fleet dies. That signal
	// is tied to the OS thread that forked, so all forks happen on one thread
	// that stays alive (locked, never returning) for the life of the process.
	go func() {
		runtime.LockOSThread()
		for fn := range spawnRequests {
			fn()
		}
	}()
}

// startProcess starts cmd on the spawner thread.
func startProcess(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	spawnRequests <- func() { errc <- cmd.Start() }
	return <-errc
}

// start boots the host: systemd-nspawn in its own session, its console
// going to h.Console.
func (h *Host) start() error {
	console, err := os.OpenFile(h.Console, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer console.Close()
	procs, err := makeCgroups(h.Machine)
	if err != nil {
		return err
	}
	// A shell moves itself into the host's cgroups and becomes nspawn, so
	// nspawn starts there (and keeps the pid, session and death signal).
	cmd := exec.Command("/bin/sh", "-c",
		`for f in $TEND_FLEET_CGROUPS; do echo $$ > "$f" || exit 1; done; unset TEND_FLEET_CGROUPS; exec "$@"`,
		"sh", "systemd-nspawn",
		"--quiet",
		"--directory="+h.Root,
		"--boot",
		"--register=no",
		"--keep-unit",
		// A pseudo-TTY console whose output nspawn copies to its stdout,
		// the console log; with --console=pipe systemd prints nothing.
		"--console=read-only",
		"--setenv=SYSTEMD_COLORS=0",
		// Its own network's settings (net.* kernel parameters, see
		// writableNet): the host has its own network namespace.
		"--capability=CAP_NET_ADMIN",
		"--link-journal=no",
		"--machine="+h.Machine,
		"--hostname="+h.Name,
		"--network-namespace-path="+filepath.Join(netnsDir, h.Netns),
		// systemd's own arguments: unit status lines on the console, which
		// is the console log, so a failed boot can be read there.
		"--", "--show-status=yes",
	)
	cmd.Env = append(os.Environ(), "TEND_FLEET_CGROUPS="+strings.Join(procs, " "))
	cmd.Stdout = console
	cmd.Stderr = console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if err := startProcess(cmd); err != nil {
		return err
	}
	h.cmd = cmd
	h.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(h.exited)
	}()
	return nil
}

// waitReady waits until sshd answers with a banner and then, over SSH,
// until systemd has finished booting and staffrota.service is active.
func (h *Host) waitReady(ctx context.Context) error {
	addr := net.JoinHostPort(h.Address, "22")
	banner := ""
	for attempt := 0; ; attempt++ {
		if h.dead() {
			return fmt.Errorf("systemd-nspawn exited during boot:\n%s", tail(h.Console, 30))
		}
		if ctx.Err() != nil || attempt >= 1000 {
			return fmt.Errorf("no SSH banner from %s: %v\n%s", addr, ctx.Err(), tail(h.Console, 30))
		}
		if banner = sshBanner(ctx, addr); banner != "" {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	var lastErr error
	for attempt := 0; attempt < 30 && ctx.Err() == nil; attempt++ {
		out, err := h.SSH(ctx, "root", "systemctl is-system-running --wait; systemctl is-active staffrota.service")
		lines := strings.Fields(out)
		if len(lines) == 2 && lines[1] == "active" {
			if lines[0] != "running" {
				failed, _ := h.SSH(ctx, "root", "systemctl --failed --no-legend --plain")
				fmt.Fprintf(h.fleet.log, "fleet: warning: %s is %s: %s\n", h.Name, lines[0], strings.TrimSpace(failed))
			}
			return nil
		}
		lastErr = fmt.Errorf("system %q: %v", strings.TrimSpace(out), err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("host not ready (%v): %v", ctx.Err(), lastErr)
}

// writableNet makes the host's /proc/sys/net writable, so that tests can
// set net.* kernel parameters: systemd-nspawn mounts /proc/sys read-only,
// and its SYSTEMD_NSPAWN_API_VFS_WRITABLE=network leaves /proc/sys/net
// writable only in a user namespace, which the fleet does not use. So
// /proc/sys/net is bind-mounted read-write onto itself in the host's mount
// namespace (as nspawn does with user namespaces). The host has its own
// network namespace: what it writes there changes only its own network
// settings (with CAP_NET_ADMIN, which nspawn gives it); the rest of
// /proc/sys stays read-only.
func (h *Host) writableNet(ctx context.Context) error {
	pid := h.PID()
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	fields := strings.Fields(string(children))
	if err != nil || pid == 0 || len(fields) != 1 {
		return fmt.Errorf("%s: the container's init process (the child of systemd-nspawn %d): %q %v", h.Name, pid, children, err)
	}
	cmd := exec.CommandContext(ctx, "nsenter", "--target", fields[0], "--mount", "--",
		"/bin/sh", "-c", "mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: making /proc/sys/net writable: %v: %s", h.Name, err, out)
	}
	return nil
}

// sshBanner returns the SSH identification line that addr sends, or "".
func sshBanner(ctx context.Context, addr string) string {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return ""
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 256)
	n, _ := io.ReadAtLeast(conn, buf, 4)
	if s := string(buf[:n]); strings.HasPrefix(s, "SSH-") {
		return strings.TrimSpace(strings.SplitN(s, "\n", 2)[0])
	}
	return ""
}

// PID returns the pid of the host's systemd-nspawn process, or 0 when this
// process has not started it or it has exited.
func (h *Host) PID() int {
	if h.cmd == nil || h.cmd.Process == nil || h.dead() {
		return 0
	}
	return h.cmd.Process.Pid
}

// dead reports whether the host's systemd-nspawn has exited.
func (h *Host) dead() bool {
	if h.exited == nil {
		return false
	}
	select {
	case <-h.exited:
		return true
	default:
		return false
	}
}

// record describes what the host made, for teardownHost.
func (h *Host) record() hostRecord {
	return hostRecord{Name: h.Name, Netns: h.Netns, Veth: h.Veth, Machine: h.Machine, Dir: h.Dir}
}

// stopOwn stops the host's systemd-nspawn, started by this process: SIGTERM
// makes it shut the container down cleanly; after StopTimeout, everything in
// the host's namespace and nspawn itself are killed.
func (h *Host) stopOwn() error {
	if h.cmd == nil || h.cmd.Process == nil {
		return stopForeign(h.Machine, h.Netns)
	}
	if h.dead() {
		return nil
	}
	pid := h.cmd.Process.Pid
	kill(pid, syscall.SIGTERM)
	select {
	case <-h.exited:
		return nil
	case <-time.After(StopTimeout):
	}
	_ = killNetns(h.Netns)
	_ = killCgroups(h.Machine)
	kill(pid, syscall.SIGKILL)
	select {
	case <-h.exited:
		return fmt.Errorf("%s did not shut down within %s and was killed", h.Machine, StopTimeout)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("systemd-nspawn %d of %s does not exit", pid, h.Machine)
	}
}

// stopForeign stops the systemd-nspawn processes running machine that this
// process did not start (those of a crashed run), the way stopOwn does.
func stopForeign(machine, netns string) error {
	pids := findNspawn(machine)
	if len(pids) == 0 {
		return nil
	}
	for _, p := range pids {
		kill(p, syscall.SIGTERM)
	}
	if waitGone(pids, StopTimeout) {
		return nil
	}
	_ = killNetns(netns)
	_ = killCgroups(machine)
	for _, p := range pids {
		kill(p, syscall.SIGKILL)
	}
	if !waitGone(pids, 10*time.Second) {
		return fmt.Errorf("systemd-nspawn %v of %s does not exit", pids, machine)
	}
	return nil
}

// teardownHost removes everything one host made, whatever state it is in:
// stops its container with stop, kills what is left in its namespace,
// unmounts its overlay, deletes its veth link and namespace and removes its
// directory. Every step is skipped when there is nothing to do.
func teardownHost(rec hostRecord, stop func() error, log io.Writer) error {
	var errs []error
	if err := stop(); err != nil {
		fmt.Fprintf(log, "fleet: %v\n", err)
	}
	if err := killNetns(rec.Netns); err != nil {
		errs = append(errs, err)
	}
	if err := killCgroups(rec.Machine); err != nil {
		errs = append(errs, err)
	}
	if err := removeCgroups(rec.Machine); err != nil {
		errs = append(errs, err)
	}
	if rec.Dir != "" {
		if err := unmountUnder(rec.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := net.InterfaceByName(rec.Veth); err == nil {
		if _, err := run(ctx, "ip", "link", "del", rec.Veth); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(netnsDir, rec.Netns)); err == nil {
		if _, err := run(ctx, "ip", "netns", "del", rec.Netns); err != nil {
			errs = append(errs, err)
		}
	}
	// nspawn's propagation directory, normally removed by nspawn itself.
	if err := safeRemoveAll(filepath.Join("/run/systemd/nspawn/propagate", rec.Machine)); err != nil {
		errs = append(errs, err)
	}
	if rec.Dir != "" && len(errs) == 0 {
		if err := safeRemoveAll(rec.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", rec.Machine, err)
	}
	return nil
}
