package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits and defaults of a fleet.
const (
	// MaxHosts is the largest number of hosts one fleet may have.
	MaxHosts = 16
	// DefaultWorkRoot is the directory under which fleets keep their state,
	// one subdirectory per fleet name, unless Options.WorkDir says otherwise.
	DefaultWorkRoot = "/var/tmp/tend-fleet"
	// DefaultBootTimeout bounds the wait for every host to become ready.
	DefaultBootTimeout = 60 * time.Second
	// StopTimeout bounds the clean shutdown of one host before it is killed.
	StopTimeout = 20 * time.Second
	// AppSocket is the unix socket the staffrota app's gunicorn listens on.
	AppSocket = "/home/staff-rota-system/staffrota.sock"
	// AppDBMarker is the file whose presence makes the app's /health/ report
	// a working database; removing it makes /health/ answer 503.
	AppDBMarker = "/home/staff-rota-system/db/available"
)

// runDir holds the lock files through which fleets find each other: one per
// live fleet (fleets/NAME.lock, holding a JSON record of what the fleet made)
// and one per address block (slots/N.lock).
const runDir = "/run/tend-fleet"

// Addresses come from 10.213.0.0/16, split into blocks of 64 addresses (one
// /26 per fleet) and each block into 16 /30s (one per host).
const (
	netBase   = 10<<24 | 213<<16
	slotSize  = 64
	slotCount = 1 << 16 / slotSize
)

// nameRE is what a fleet name may look like. Interface, netns and machine
// names are NAME-hN, so eleven characters keep them within the kernel's
// fifteen for interface names.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,10}$`)

// Options configures Up.
type Options struct {
	// Hosts is the number of hosts, from 1 to MaxHosts.
	Hosts int
	// Name prefixes the fleet's network namespaces, veth interfaces and
	// machine names (NAME-h1, NAME-h2, ...). It must match [a-z][a-z0-9]{0,10}.
	// When empty, a name unique to this process and call is derived from the
	// pid: "tf" followed by base-36 digits.
	Name string
	// CacheDir holds built base roots; DefaultCacheDir when empty.
	CacheDir string
	// WorkDir is the fleet's own state directory (overlays, keys,
	// inventories); DefaultWorkRoot/NAME when empty. Down removes it.
	WorkDir string
	// Log receives progress messages; nil discards them.
	Log io.Writer
	// BootTimeout bounds the wait, after the containers were started, until
	// every host is ready; DefaultBootTimeout when zero.
	BootTimeout time.Duration
	// Behind hides hosts behind a bastion: it maps a host's name (h2) to
	// the name of the host of the fleet that alone can reach it (h1). Once
	// booted, such a host's link to this machine goes down (its address
	// stays on it, so that this machine's packets for it go nowhere else
	// and a connection to it fails), and a link to the bastion's network
	// namespace carries its address instead: only the bastion reaches it,
	// as from its own Gateway. A bastion cannot be hidden itself.
	Behind map[string]string
}

// Fleet is a set of running hosts made by Up. Its exported fields are
// read-only; Down tears it down.
type Fleet struct {
	// Name is the fleet's name, the prefix of its hosts' machine names.
	Name string
	// Dir is the fleet's state directory.
	Dir string
	// Hosts are the fleet's hosts, named h1, h2, ... in order.
	Hosts []*Host
	// ClientKey is the path of the unencrypted ed25519 private key (mode
	// 0600) whose public half is authorized for root, deploy and ops on
	// every host. Its public key is ClientKey + ".pub".
	ClientKey string
	// KnownHosts is the path of an OpenSSH known_hosts file listing the real
	// host keys of every host, one "ADDRESS TYPE KEY" line per key.
	KnownHosts string
	// SudoPassword is the password of user ops, whose sudo asks for it.
	SudoPassword string
	// BaseRoot is the cached root file system every host's overlay is
	// stacked on.
	BaseRoot string

	log      io.Writer
	mu       sync.Mutex
	nameLock *os.File
	slotLock *os.File
	slot     int
}

// Host is one container of a fleet.
type Host struct {
	// Name is the host's name inside the fleet and its hostname: h1, h2, ...
	Name string
	// Address is the host's IPv4 address, reachable from the machine that
	// runs the fleet; sshd listens on port 22 there.
	Address string
	// Gateway is the address of the machine's end of the host's veth link.
	Gateway string
	// Netns is the name of the host's network namespace (/run/netns/NAME).
	Netns string
	// Veth is the name of the machine-side interface of the host's link;
	// inside the host its peer is eth0.
	Veth string
	// Machine is the systemd-nspawn machine name, FLEET-hN.
	Machine string
	// Root is the mount point of the host's overlay root file system;
	// writing below it changes the host's files.
	Root string
	// Dir is the host's state directory (overlay layers, console log).
	Dir string
	// Console is the path of the file that receives the host's console.
	Console string
	// HostKeys lists the host's public SSH host keys as "TYPE BASE64" lines.
	HostKeys []string
	// Behind is the name of the bastion host that alone reaches this one
	// (Options.Behind), or "".
	Behind string

	// behind is the bastion to hide behind once booted.
	behind string
	fleet  *Fleet
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
}

// record is what a fleet writes into its lock file so that Cleanup can tear
// it down after a crash.
type record struct {
	Name  string       `json:"name"`
	Dir   string       `json:"dir"`
	Owner int          `json:"owner_pid"`
	Hosts []hostRecord `json:"hosts"`
}

// hostRecord names what one host made.
type hostRecord struct {
	Name    string `json:"name"`
	Netns   string `json:"netns"`
	Veth    string `json:"veth"`
	Machine string `json:"machine"`
	Dir     string `json:"dir"`
}

var nameCounter atomic.Int64

// defaultName derives a fleet name from the pid and a per-process counter.
func defaultName() string {
	n := nameCounter.Add(1) - 1
	return "tf" + strconv.FormatInt(int64(os.Getpid()), 36) + "x" + strconv.FormatInt(n, 36)
}

// Up boots a fleet: it builds or reuses the cached base root, gives every
// host an overlay on it with its own host keys, machine id, authorized client
// key and ops password, a network namespace with a veth link and a /30 of
// 10.213.0.0/16, and boots them all in parallel under systemd-nspawn. It
// returns once every host's sshd answers and, over SSH, systemd has finished
// booting with staffrota.service active, or fails after Options.BootTimeout.
// On any failure, everything it made is torn down again. Up needs root.
func Up(ctx context.Context, o Options) (*Fleet, error) {
	if o.Hosts < 1 || o.Hosts > MaxHosts {
		return nil, fmt.Errorf("fleet: Hosts must be between 1 and %d, not %d", MaxHosts, o.Hosts)
	}
	if o.Name == "" {
		o.Name = defaultName()
	}
	if !nameRE.MatchString(o.Name) {
		return nil, fmt.Errorf("fleet: name %q must match %s", o.Name, nameRE)
	}
	if o.WorkDir == "" {
		o.WorkDir = filepath.Join(DefaultWorkRoot, o.Name)
	}
	if o.BootTimeout <= 0 {
		o.BootTimeout = DefaultBootTimeout
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if err := checkBehind(o.Hosts, o.Behind); err != nil {
		return nil, err
	}
	if err := Check(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.WorkDir)
	if err != nil {
		return nil, err
	}
	// Fleets whose owner died go first: they may hold addresses or names.
	if err := cleanupStale(func(string) bool { return true }, o.Log); err != nil {
		fmt.Fprintf(o.Log, "fleet: warning: cleaning up stale fleets: %v\n", err)
	}
	base, err := BaseRoot(ctx, o.CacheDir, o.Log)
	if err != nil {
		return nil, fmt.Errorf("fleet: base root: %w", err)
	}

	f := &Fleet{Name: o.Name, Dir: dir, BaseRoot: base, log: o.Log, slot: -1}
	if err := os.MkdirAll(filepath.Join(runDir, "fleets"), 0o755); err != nil {
		return nil, err
	}
	f.nameLock, err = lockFile(ctx, filepath.Join(runDir, "fleets", f.Name+".lock"), false)
	if errors.Is(err, errLocked) {
		return nil, fmt.Errorf("fleet: a fleet named %q is running in another process", f.Name)
	}
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			if derr := f.Down(); derr != nil {
				fmt.Fprintf(o.Log, "fleet: cleanup after failed start: %v\n", derr)
			}
		}
	}()
	// Leftovers of an earlier fleet of the same name, if its owner died.
	if err := teardownByName(f.Name, f.Dir, o.Log); err != nil {
		return nil, fmt.Errorf("fleet: removing leftovers of %s: %w", f.Name, err)
	}
	if err := f.claimSlot(); err != nil {
		return nil, err
	}
	for i := 0; i < o.Hosts; i++ {
		hostIP := netBase + uint32(f.slot)*slotSize + uint32(i)*4
		name := fmt.Sprintf("h%d", i+1)
		id := f.Name + "-" + name
		hdir := filepath.Join(f.Dir, name)
		f.Hosts = append(f.Hosts, &Host{
			Name: name, Address: ipString(hostIP + 2), Gateway: ipString(hostIP + 1),
			Netns: id, Veth: id, Machine: id,
			Dir: hdir, Root: filepath.Join(hdir, "merged"), Console: filepath.Join(hdir, "console.log"),
			behind: o.Behind[name],
			fleet:  f,
		})
	}
	if err := f.writeRecord(); err != nil {
		return nil, err
	}
	if err := f.prepare(ctx); err != nil {
		return nil, err
	}

	start := time.Now()
	fmt.Fprintf(o.Log, "fleet: booting %d host(s) of fleet %s\n", len(f.Hosts), f.Name)
	if err := f.forEach(func(h *Host) error { return h.prepare(ctx) }); err != nil {
		return nil, err
	}
	if err := f.writeKnownHosts(); err != nil {
		return nil, err
	}
	prepared := time.Since(start)
	if err := f.forEach(func(h *Host) error { return h.start() }); err != nil {
		return nil, err
	}
	bootCtx, cancel := context.WithTimeout(ctx, o.BootTimeout)
	defer cancel()
	if err := f.forEach(func(h *Host) error {
		if err := h.waitReady(bootCtx); err != nil {
			return err
		}
		return h.writableNet(bootCtx)
	}); err != nil {
		return nil, err
	}
	if err := f.forEach(func(h *Host) error {
		if h.behind == "" {
			return nil
		}
		return h.hide(ctx, f.Host(h.behind))
	}); err != nil {
		return nil, err
	}
	total := time.Since(start)
	msg := fmt.Sprintf("fleet: %d host(s) ready in %s (prepare %s, boot %s):", len(f.Hosts),
		total.Round(10*time.Millisecond), prepared.Round(10*time.Millisecond), (total - prepared).Round(10*time.Millisecond))
	for _, h := range f.Hosts {
		msg += fmt.Sprintf(" %s=%s", h.Name, h.Address)
	}
	fmt.Fprintln(o.Log, msg)
	ok = true
	return f, nil
}

// Check reports why this machine cannot run a fleet: not root, or a needed
// program missing. It returns nil when Up can work (debootstrap is only
// needed when the base root is not cached yet, and is not checked here).
func Check() error {
	if os.Geteuid() != 0 {
		return errors.New("fleet: needs root")
	}
	var missing []string
	for _, p := range []string{"systemd-nspawn", "ip", "ssh", "ssh-keygen", "chpasswd", "chroot"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("fleet: missing %s (apt-get install -y debootstrap systemd-container openssh-client iproute2)", strings.Join(missing, ", "))
	}
	return nil
}

// checkBehind checks Options.Behind against a fleet of n hosts.
func checkBehind(n int, behind map[string]string) error {
	valid := func(name string) bool {
		k, err := strconv.Atoi(strings.TrimPrefix(name, "h"))
		return strings.HasPrefix(name, "h") && err == nil && k >= 1 && k <= n && name == fmt.Sprintf("h%d", k)
	}
	for hidden, bastion := range behind {
		switch {
		case !valid(hidden) || !valid(bastion):
			return fmt.Errorf("fleet: Behind: %s → %s: hosts are h1 to h%d", hidden, bastion, n)
		case hidden == bastion:
			return fmt.Errorf("fleet: Behind: %s cannot be its own bastion", hidden)
		case behind[bastion] != "":
			return fmt.Errorf("fleet: Behind: the bastion %s is hidden itself (behind %s)", bastion, behind[bastion])
		}
	}
	return nil
}

// forEach runs fn for every host in parallel and joins their errors.
func (f *Fleet) forEach(fn func(h *Host) error) error {
	errs := make([]error, len(f.Hosts))
	var wg sync.WaitGroup
	for i, h := range f.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(h); err != nil {
				errs[i] = fmt.Errorf("%s: %w", h.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// claimSlot takes the first free block of addresses: one whose lock file is
// free and none of whose addresses is configured on this machine.
func (f *Fleet) claimSlot() error {
	dir := filepath.Join(runDir, "slots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	used := map[uint32]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip4 := ipn.IP.To4(); ip4 != nil {
					v := uint32(ip4[0])<<24 | uint32(ip4[1])<<16 | uint32(ip4[2])<<8 | uint32(ip4[3])
					if v&0xffff0000 == netBase {
						used[(v-netBase)/slotSize] = true
					}
				}
			}
		}
	}
	for k := 0; k < slotCount; k++ {
		if used[uint32(k)] {
			continue
		}
		lock, err := lockFile(context.Background(), filepath.Join(dir, strconv.Itoa(k)+".lock"), false)
		if errors.Is(err, errLocked) {
			continue
		}
		if err != nil {
			return err
		}
		if err := lock.Truncate(0); err == nil {
			_, _ = lock.WriteAt([]byte(f.Name+"\n"), 0)
		}
		f.slotLock, f.slot = lock, k
		return nil
	}
	return errors.New("fleet: no free address block in 10.213.0.0/16")
}

// writeRecord stores what the fleet makes in its lock file, for Cleanup.
func (f *Fleet) writeRecord() error {
	rec := record{Name: f.Name, Dir: f.Dir, Owner: os.Getpid()}
	for _, h := range f.Hosts {
		rec.Hosts = append(rec.Hosts, hostRecord{Name: h.Name, Netns: h.Netns, Veth: h.Veth, Machine: h.Machine, Dir: h.Dir})
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := f.nameLock.Truncate(0); err != nil {
		return err
	}
	_, err = f.nameLock.WriteAt(append(data, '\n'), 0)
	return err
}

// prepare makes the fleet directory, the client key and the ops password.
func (f *Fleet) prepare(ctx context.Context) error {
	if err := removeFleetDir(f.Dir); err != nil {
		return err
	}
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(f.Dir, dirMarker), []byte(f.Name+"\n"), 0o644); err != nil {
		return err
	}
	f.ClientKey = filepath.Join(f.Dir, "client_key")
	f.KnownHosts = filepath.Join(f.Dir, "known_hosts")
	if _, err := run(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tend-fleet-"+f.Name, "-f", f.ClientKey); err != nil {
		return err
	}
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		return err
	}
	f.SudoPassword = hex.EncodeToString(pw)
	return nil
}

// writeKnownHosts writes every host's keys into f.KnownHosts.
func (f *Fleet) writeKnownHosts() error {
	var b strings.Builder
	for _, h := range f.Hosts {
		for _, k := range h.HostKeys {
			fmt.Fprintf(&b, "%s %s\n", h.Address, k)
		}
	}
	return os.WriteFile(f.KnownHosts, []byte(b.String()), 0o644)
}

// Addresses returns the hosts' addresses, in host order.
func (f *Fleet) Addresses() []string {
	var out []string
	for _, h := range f.Hosts {
		out = append(out, h.Address)
	}
	return out
}

// Host returns the host with the given name (h1, h2, ...), or nil.
func (f *Fleet) Host(name string) *Host {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// SSHArgs returns the ssh(1) options that reach the fleet's hosts with the
// fleet's client key, checking host keys strictly against KnownHosts and
// never prompting. Append "-l USER ADDRESS -- COMMAND" to use them.
func (f *Fleet) SSHArgs() []string {
	return []string{
		"-F", "/dev/null",
		"-i", f.ClientKey,
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + f.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=5",
		"-o", "ServerAliveInterval=10",
		"-o", "LogLevel=ERROR",
	}
}

// Down stops every host (SIGTERM to systemd-nspawn, so systemd shuts down
// cleanly; killed after StopTimeout), unmounts the overlays, deletes the
// veth links and network namespaces and removes the fleet directory. It is
// safe to call more than once, and on a fleet that Up only half made; a
// later call retries whatever an earlier one failed to remove.
func (f *Fleet) Down() error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nameLock == nil && len(f.Hosts) == 0 {
		return nil
	}
	err := f.forEach(func(h *Host) error { return teardownHost(h.record(), h.stopOwn, f.log) })
	if err == nil && f.Dir != "" {
		err = removeFleetDir(f.Dir)
	}
	if f.slotLock != nil {
		f.slotLock.Close()
		f.slotLock = nil
	}
	if f.nameLock != nil {
		if err == nil {
			// Unlink while holding the lock; see lockFile.
			_ = os.Remove(filepath.Join(runDir, "fleets", f.Name+".lock"))
		}
		f.nameLock.Close()
		f.nameLock = nil
	}
	if err == nil {
		f.Hosts = nil
	}
	return err
}

// ipString formats an IPv4 address held in a uint32.
func ipString(v uint32) string {
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).String()
}

// kill sends sig to pid, ignoring a process that is already gone.
func kill(pid int, sig syscall.Signal) {
	if pid > 0 {
		_ = syscall.Kill(pid, sig)
	}
}

// dirMarker is the file that marks a directory as a fleet's state directory.
const dirMarker = ".tend-fleet"

// removeFleetDir removes a fleet state directory. To never delete a
// directory a caller passed as WorkDir by mistake, it only removes one that
// is empty or carries the marker file Up writes.
func removeFleetDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, dirMarker)); err != nil && len(entries) > 0 {
		return fmt.Errorf("fleet: refusing to remove %s: not a fleet directory (no %s)", dir, dirMarker)
	}
	return safeRemoveAll(dir)
}
