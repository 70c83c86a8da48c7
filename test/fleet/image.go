package fleet

import (
	"bufio"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// image holds what is added to the debootstrap root: rootfs/ is copied over
// the root as it is, then provision.sh runs chrooted in it. The "all:" prefix
// keeps files such as __init__.py, which embed would otherwise skip.
//
//go:embed all:image
var image embed.FS

// DefaultCacheDir is where built base roots are kept between runs.
const DefaultCacheDir = "/var/cache/tend-fleet"

// Suite is the Debian release the hosts run.
const Suite = "bookworm"

// recipeVersion is bumped whenever the build steps below change in a way
// that the hashed inputs do not show.
const recipeVersion = "tend-fleet-base/1"

// Packages lists what debootstrap installs on top of its minbase variant.
var Packages = []string{
	"systemd", "systemd-sysv", "dbus", "openssh-server", "python3",
	"gunicorn", "curl", "iproute2", "procps", "sudo",
}

// RecipeHash returns the hex SHA-256 of everything that goes into the base
// root: the Debian suite and variant, the package list, and the path and
// content of every file added to it (including the provisioning script).
// Changing any of them yields a new cache entry.
func RecipeHash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00minbase\x00%s\x00", recipeVersion, Suite, strings.Join(Packages, ","))
	err := fs.WalkDir(image, "image", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := image.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// BaseRoot returns the path of the cached base root for the current recipe
// under cacheDir (DefaultCacheDir when empty), building it first if it is not
// there yet. Concurrent callers, in this process or others, serialise on a
// lock file; the root is built in a temporary directory and renamed into
// place, so a half-built root is never visible. Progress goes to log, which
// may be nil.
func BaseRoot(ctx context.Context, cacheDir string, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	if cacheDir == "" {
		cacheDir = DefaultCacheDir
	}
	sum, err := RecipeHash()
	if err != nil {
		return "", err
	}
	key := sum[:16]
	final := filepath.Join(cacheDir, key)
	root := filepath.Join(final, "rootfs")
	if complete(final) {
		touch(final)
		return root, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("building the fleet base root needs root")
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	// Another builder holds the lock for at most its 20-minute build.
	lockCtx, cancel := context.WithTimeout(ctx, 25*time.Minute)
	defer cancel()
	lock, err := lockFile(lockCtx, filepath.Join(cacheDir, key+".lock"), true)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if complete(final) { // built by someone else while we waited
		return root, nil
	}
	// Leftovers of builds that crashed while holding this lock.
	stale, _ := filepath.Glob(filepath.Join(cacheDir, ".build-"+key+"-*"))
	stale = append(stale, final)
	for _, d := range stale {
		if err := safeRemoveAll(d); err != nil {
			return "", fmt.Errorf("removing stale build %s: %w", d, err)
		}
	}
	tmp := filepath.Join(cacheDir, fmt.Sprintf(".build-%s-%d", key, os.Getpid()))
	start := time.Now()
	fmt.Fprintf(log, "fleet: building base root %s (debootstrap %s, about a minute)\n", final, Suite)
	if err := build(ctx, tmp, sum, log); err != nil {
		if rmErr := safeRemoveAll(tmp); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = safeRemoveAll(tmp)
		return "", err
	}
	fmt.Fprintf(log, "fleet: base root built in %s\n", time.Since(start).Round(time.Second))
	return root, nil
}

// complete reports whether dir holds a finished build.
func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "rootfs", "etc", "systemd", "system", "staffrota.service"))
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "recipe.txt"))
	return err == nil
}

// build makes a complete base root in dir/rootfs.
func build(ctx context.Context, dir, sum string, log io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	root := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return errors.New("debootstrap is not installed (apt-get install -y debootstrap systemd-container openssh-client iproute2)")
	}
	mirror := Mirror()
	logPath := filepath.Join(dir, "debootstrap.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase",
		"--include="+strings.Join(Packages, ","), Suite, root, mirror)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// On cancellation, stop debootstrap and the dpkg runs it started.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	fmt.Fprintf(log, "fleet: debootstrap from %s\n", mirror)
	if err := cmd.Run(); err != nil {
		_ = unmountUnder(root)
		return fmt.Errorf("debootstrap: %w\n%s", err, tail(logPath, 20))
	}
	if err := unmountUnder(root); err != nil { // debootstrap normally cleans up
		return err
	}
	if err := copyImage(root); err != nil {
		return fmt.Errorf("adding image files: %w", err)
	}
	script, err := image.ReadFile("image/provision.sh")
	if err != nil {
		return err
	}
	proc := filepath.Join(root, "proc")
	if err := syscall.Mount("proc", proc, "proc", 0, ""); err != nil {
		return fmt.Errorf("mount proc: %w", err)
	}
	out, err := runInput(ctx, strings.NewReader(string(script)), "chroot", root, "/bin/sh", "-s")
	if uerr := unmountUnder(proc); uerr != nil {
		err = errors.Join(err, uerr)
	}
	if err != nil {
		return fmt.Errorf("provisioning: %w\n%s", err, out)
	}
	if keys, _ := filepath.Glob(filepath.Join(root, "etc/ssh/ssh_host_*")); len(keys) > 0 {
		return fmt.Errorf("provisioning left host keys in the base: %v", keys)
	}
	recipe := fmt.Sprintf("recipe %s\nsuite %s\nvariant minbase\npackages %s\nmirror %s\nbuilt %s\n",
		sum, Suite, strings.Join(Packages, " "), mirror, time.Now().UTC().Format(time.RFC3339))
	return os.WriteFile(filepath.Join(dir, "recipe.txt"), []byte(recipe), 0o644)
}

// copyImage copies image/rootfs over root: directories 0755, files 0644
// (provision.sh sets the modes and owners that differ).
func copyImage(root string) error {
	return fs.WalkDir(image, "image/rootfs", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, "image/rootfs"), "/")
		dst := filepath.Join(root, filepath.FromSlash(rel))
		if d.IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			return os.Chmod(dst, 0o755)
		}
		data, err := image.ReadFile(p)
		if err != nil {
			return err
		}
		_ = os.Remove(dst) // never write through a symlink left by a package
		return os.WriteFile(dst, data, 0o644)
	})
}

// Mirror returns the Debian mirror debootstrap uses: $TEND_FLEET_MIRROR if
// set, else the first URI of this machine's apt sources that serves the
// plain Suite (so a mirror the machine is known to reach), else
// http://deb.debian.org/debian.
func Mirror() string {
	if m := os.Getenv("TEND_FLEET_MIRROR"); m != "" {
		return m
	}
	files := []string{"/etc/apt/sources.list"}
	more, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append(files, more...)
	for _, f := range files {
		if m := mirrorFrom(f); m != "" {
			return m
		}
	}
	return "http://deb.debian.org/debian"
}

// mirrorFrom finds a mirror serving Suite in a one-line (.list) or deb822
// (.sources) apt sources file.
func mirrorFrom(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	var uris, suites []string
	flush := func() string {
		defer func() { uris, suites = nil, nil }()
		for _, s := range suites {
			if s == Suite && len(uris) > 0 {
				return uris[0]
			}
		}
		return ""
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if line == "" {
			if m := flush(); m != "" {
				return m
			}
			continue
		}
		fields := strings.Fields(line)
		switch {
		case fields[0] == "deb":
			rest := fields[1:]
			if len(rest) > 0 && strings.HasPrefix(rest[0], "[") {
				for len(rest) > 0 && !strings.HasSuffix(rest[0], "]") {
					rest = rest[1:]
				}
				if len(rest) > 0 {
					rest = rest[1:]
				}
			}
			if len(rest) >= 2 && rest[1] == Suite && path.Base(rest[0]) == "debian" {
				return rest[0]
			}
		case strings.EqualFold(fields[0], "URIs:"):
			uris = fields[1:]
		case strings.EqualFold(fields[0], "Suites:"):
			suites = fields[1:]
		}
	}
	return flush()
}

// touch marks a cache entry as used now, for PruneCache.
func touch(entry string) {
	now := time.Now()
	_ = os.Chtimes(filepath.Join(entry, "recipe.txt"), now, now)
}

// cacheKeyRE matches the names of cache entries.
var cacheKeyRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// PruneCache removes the base roots in cacheDir (DefaultCacheDir when
// empty) that belong to other recipes than the current one, have not been
// used for unusedFor, and are not the lower layer of any mounted overlay.
// It returns the entries it removed.
func PruneCache(cacheDir string, unusedFor time.Duration) ([]string, error) {
	if cacheDir == "" {
		cacheDir = DefaultCacheDir
	}
	sum, err := RecipeHash()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(cacheDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ms, err := mounts()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		key := e.Name()
		if !e.IsDir() || !cacheKeyRE.MatchString(key) || key == sum[:16] {
			continue
		}
		dir := filepath.Join(cacheDir, key)
		if st, err := os.Stat(filepath.Join(dir, "recipe.txt")); err == nil && time.Since(st.ModTime()) < unusedFor {
			continue
		}
		inUse := false
		for _, m := range ms {
			if m.FSType == "overlay" && strings.Contains(m.Opts, dir+"/") {
				inUse = true
			}
		}
		if inUse {
			continue
		}
		lock, err := lockFile(context.Background(), filepath.Join(cacheDir, key+".lock"), false)
		if err != nil {
			continue // being built
		}
		if err := safeRemoveAll(dir); err != nil {
			errs = append(errs, err)
		} else {
			removed = append(removed, dir)
			_ = os.Remove(lock.Name())
		}
		lock.Close()
	}
	return removed, errors.Join(errs...)
}
