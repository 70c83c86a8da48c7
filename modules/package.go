package modules

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "package",
		Summary: "A Debian package (apt/dpkg): present, pinned to a version, the latest the host's apt sources offer, or absent",
		New:     func() Module { return &Package{} },
		Config:  func() any { return &packageConfig{} },
		Doc: `Manages one package with apt and dpkg (Debian, Ubuntu and their derivatives; other systems are an error that names them). The state is read without network: dpkg-query for the installed version, apt-cache policy for the versions the host's apt lists offer, and, when something is to change, apt-get's simulation, so the plan shows the installed and the wanted version ("(absent) → 1.2-1 (candidate)", "1.0-1 → 1.1-1", "1.0-1 → (absent)") and every other package apt would install, upgrade or remove with it ("also libjq1: (absent) → 1.6-2.1").

Apply installs exactly the version the plan showed (apt-get install NAME=VERSION, non-interactive, keeping changed configuration files, waiting up to two minutes for another apt or dpkg to finish), or removes the package (apt-get remove, or purge). A package that none of the host's apt sources offer is an error in plan: run apt-get update on the host or set update_cache = true, which runs apt-get update before installing (only when something is to be installed; the candidate may then differ from the one planned, and is installed). "latest" compares with the host's apt lists as they are: without update_cache tend does not refresh them.

Changing packages needs root: the host must log in as root or with become. A package held with apt-mark hold, or left half-installed by dpkg, is an error rather than changed. A revert of a host that fails later in the run removes a package the run installed (with the dependencies it pulled in, unless that would remove anything else), and reinstalls the version it replaced or removed when apt can still download it; a purge, or a version apt no longer offers, stays done and the revert says so.`,
		Example: `package "nginx" {
  state = "present"
}

package "openssl" {
  version = "3.0.15-1~deb12u1"
}

package "jq" {
  state        = "latest"
  update_cache = true
}

package "telnet" {
  state = "absent"
  purge = true
}
`,
	})
}

var _ Module = (*Package)(nil)
var _ Undoer = (*Package)(nil)

// Package manages one Debian package through apt and dpkg.
//
// The package's name is the task's label unless the package attribute is
// given (for a for_each, or two tasks on one package). It is not called
// name: that is the meta-argument of every task (its display name). See
// the registry's Doc for the semantics.
type Package struct {
	name        string
	state       string // "present", "latest" or "absent"
	version     string // pinned version ("" : none)
	purge       bool
	updateCache bool
}

type packageConfig struct {
	Package     *string `hcl:"package,optional" doc:"The package's name, as Debian spells it, optionally with an architecture (\"libc6:i386\"); the task's label when not set (name, as in every task, is only the task's display name)."`
	State       *string `hcl:"state,optional" enum:"present,latest,absent" default:"present" doc:"\"present\" installs the package when it is not installed (the version of version, or the candidate apt offers) and leaves an installed one alone unless version differs; \"latest\" also upgrades it to the candidate of the host's apt lists; \"absent\" removes it."`
	Version     *string `hcl:"version,optional" doc:"The exact Debian version to install (\"1.22.1-9\", \"1:2.3-1\"); a different installed version is upgraded or downgraded to it. Only with state = \"present\"."`
	Purge       *bool   `hcl:"purge,optional" default:"false" doc:"With state = \"absent\": also delete the package's configuration files (apt-get purge); a package already removed but whose configuration files remain is purged too."`
	UpdateCache *bool   `hcl:"update_cache,optional" default:"false" doc:"Run apt-get update before installing or upgrading (only when something is to be installed). The plan shows the candidate of the lists as they are, which the update may change."`
}

// packageNameRe is a Debian package name (policy 5.6.1), with an optional
// architecture qualifier.
var (
	packageNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(:[a-z0-9][a-z0-9-]*)?$`)
	debEpochRe    = regexp.MustCompile(`^[0-9]+$`)
	debUpstreamRe = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~:-]*$`)
	debRevisionRe = regexp.MustCompile(`^[A-Za-z0-9+.~]+$`)
)

// validPackageName checks a Debian package name (optionally NAME:ARCH).
func validPackageName(name string) error {
	if !packageNameRe.MatchString(name) {
		return fmt.Errorf("%q is not a Debian package name: lower-case letters, digits, \"+\", \"-\" and \".\", at least two characters, starting with a letter or a digit, optionally followed by :ARCH (\"libc6:i386\")", name)
	}
	base, _, _ := strings.Cut(name, ":")
	for _, ext := range []string{".deb", ".udeb", ".dsc", ".changes"} {
		if strings.HasSuffix(base, ext) {
			return fmt.Errorf("%q names a package file, not a package: tend installs packages from the host's apt sources", name)
		}
	}
	return nil
}

// validDebVersion checks the syntax of a Debian version
// ([epoch:]upstream[-revision], deb-version(7)).
func validDebVersion(v string) error {
	bad := func(why string) error {
		return fmt.Errorf("%q is not a Debian version (%s): write [epoch:]upstream[-revision], such as \"1.22.1-9\" or \"1:2.3-1\"", v, why)
	}
	if v == "" {
		return bad("empty")
	}
	rest := v
	if epoch, after, ok := strings.Cut(v, ":"); ok {
		if !debEpochRe.MatchString(epoch) {
			return bad("the epoch before \":\" must be a number")
		}
		rest = after
	}
	upstream := rest
	if i := strings.LastIndex(rest, "-"); i >= 0 {
		upstream = rest[:i]
		if !debRevisionRe.MatchString(rest[i+1:]) {
			return bad("the revision after the last \"-\" may hold only letters, digits, \"+\", \".\" and \"~\"")
		}
	}
	if !debUpstreamRe.MatchString(upstream) {
		return bad("the upstream version must start with a digit and hold only letters, digits, \".\", \"+\", \"~\", \"-\" and \":\"")
	}
	if strings.Contains(upstream, ":") && !strings.Contains(v, ":") {
		return bad("\":\" needs an epoch")
	}
	return nil
}

// Decode reads and validates the package task (an attribute whose value is
// not known is checked no further).
func (m *Package) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg packageConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok || diags.HasErrors() {
		return diags
	}
	name, nameAttr := label, ""
	if cfg.Package != nil {
		name, nameAttr = *cfg.Package, "package"
	}
	if !dec.unknown["package"] {
		if err := validPackageName(name); err != nil {
			if nameAttr == "" {
				diags = append(diags, labelErrAt(body, "Invalid package name", err.Error()+"; or give the name in the package attribute."))
			} else {
				diags = append(diags, errAt(body, "package", "Invalid package name", err.Error()+"."))
			}
		}
		m.name = name
	}
	if cfg.State != nil {
		m.state = *cfg.State
	}
	if cfg.Version != nil {
		if err := validDebVersion(*cfg.Version); err != nil {
			diags = append(diags, errAt(body, "version", "Invalid version", err.Error()+"."))
		}
		m.version = *cfg.Version
		if m.state == "absent" || m.state == "latest" {
			diags = append(diags, errAt(body, "version", "Version with state = \""+m.state+"\"",
				fmt.Sprintf("version pins what state = \"present\" installs; with state = %q it has no meaning: remove one of them.", m.state)))
		}
	}
	if cfg.Purge != nil {
		m.purge = *cfg.Purge
		if m.purge && m.state != "absent" && !dec.unknown["state"] {
			diags = append(diags, errAt(body, "purge", "Purge without state = \"absent\"", "purge = true deletes the configuration files of a package being removed: it needs state = \"absent\"."))
		}
	}
	if cfg.UpdateCache != nil {
		m.updateCache = *cfg.UpdateCache
		if m.updateCache && m.state == "absent" {
			diags = append(diags, errAt(body, "update_cache", "update_cache with state = \"absent\"", "update_cache runs apt-get update before installing; removing a package needs no update."))
		}
	}
	return diags
}

// fact is the package's state probe.
func (m *Package) fact() packageFact {
	wish := m.state
	switch {
	case m.version != "":
		wish = "=" + m.version
	case m.state == "absent" && m.purge:
		wish = "purge"
	}
	return packageFact{Name: m.name, Wish: wish}
}

// Probes reads the package's state (one fact).
func (m *Package) Probes() []executor.Probe {
	return []executor.Probe{{Kind: executor.ProbeFact, Fact: m.fact(), Become: true}}
}

// packageChange is what a package task changes, as Check decides it.
type packageChange struct {
	// op is "install", "remove" or "purge"; "" when in sync.
	op string
	// from is the installed version ("" when none); configOnly says the
	// package was removed but its configuration files remained.
	from       string
	configOnly bool
	// to is the version to install; "" with op install means the candidate
	// after apt-get update (none before it).
	to string
	// candidate says to is apt's candidate (no version was asked for).
	candidate bool
}

// plan decides what the package needs, from the gathered state.
func (m *Package) plan(t *Target) (packageChange, *packageState, error) {
	v, ok := t.State.Fact(m.fact())
	if !ok {
		return packageChange{}, nil, fmt.Errorf("package %s: its state was not gathered", m.name)
	}
	st, ok := v.(*packageState)
	if !ok || st == nil {
		return packageChange{}, nil, fmt.Errorf("package %s: unexpected state %T", m.name, v)
	}
	if !st.Supported {
		os := t.State.Facts.OS
		if os == "" {
			os = "unknown"
		}
		if t.State.Facts.OSVersion != "" {
			os += " " + t.State.Facts.OSVersion
		}
		return packageChange{}, st, fmt.Errorf("package supports apt/dpkg systems (Debian, Ubuntu) for now; this host runs %s (no /etc/debian_version, dpkg-query or apt-get)", os)
	}
	inst, err := st.installed(m.name)
	if err != nil {
		return packageChange{}, st, err
	}
	c := packageChange{from: inst.Version, configOnly: inst.ConfigOnly}
	switch {
	case m.state == "absent":
		switch {
		case inst.Installed && m.purge:
			c.op = "purge"
		case inst.Installed:
			c.op = "remove"
		case inst.ConfigOnly && m.purge:
			c.op = "purge"
		}
	case m.version != "":
		if !inst.Installed || inst.Version != m.version {
			c.op, c.to = "install", m.version
			if !m.updateCache && !st.Policy.available(m.version) {
				return c, st, fmt.Errorf("package %s: version %s is not available from the host's apt sources (%s): run apt-get update on the host or add update_cache = true", m.name, m.version, st.Policy.offers())
			}
		}
	default:
		cand := st.Policy.Candidate
		if inst.Installed && (m.state == "present" || inst.Version == cand) {
			break
		}
		if inst.Installed && cand == "" {
			// latest, but apt offers nothing to compare with.
			return c, st, fmt.Errorf("package %s: apt has no candidate version to compare %s with (not available from the host's apt sources): run apt-get update on the host, or use state = \"present\"", m.name, inst.Version)
		}
		if cand == "" && !m.updateCache {
			return c, st, fmt.Errorf("package %s is not available from the host's apt sources: run apt-get update or add update_cache = true", m.name)
		}
		c.op, c.to, c.candidate = "install", cand, true
	}
	if c.op == "" {
		return c, st, nil
	}
	if inst.Want == "hold" {
		return c, st, fmt.Errorf("package %s is held (apt-mark hold): tend does not change a held package; release it with apt-mark unhold %s, or change the task", m.name, m.name)
	}
	if u := t.State.Facts.EffectiveUser; u != "" && u != "root" {
		return c, st, fmt.Errorf("package %s: changing packages needs root, and this host's state was read as %s: log in as root or set become = true in the inventory", m.name, u)
	}
	if sim := st.Sim; sim != nil && sim.Code != 0 && !m.updateCache {
		return c, st, fmt.Errorf("package %s: apt cannot %s it: %s", m.name, c.op, sim.errorText())
	}
	return c, st, nil
}

// Check compares the package with the gathered state.
func (m *Package) Check(ctx context.Context, t *Target) (*Diff, error) {
	c, st, err := m.plan(t)
	if err != nil {
		return nil, err
	}
	d := &Diff{}
	if c.op == "" {
		return d, nil
	}
	d.Beyond = true
	old := c.from
	switch {
	case old == "" && c.configOnly:
		old = "(config files)"
	case old == "":
		old = "(absent)"
	}
	var to string
	switch c.op {
	case "install":
		to = c.to
		switch {
		case to == "":
			to = "(candidate after apt-get update)"
		case c.candidate:
			to += " (candidate)"
		}
		if m.updateCache {
			d.Notes = append(d.Notes, "apt-get update runs first: the candidate may change")
		}
	case "remove":
		d.Notes = append(d.Notes, "its configuration files are kept (purge = true deletes them)")
	case "purge":
		to = "(purged)"
		d.Notes = append(d.Notes, "its configuration files are deleted too")
	}
	d.Add(Change{Attr: "version", Old: old, New: to})
	if st.Sim != nil {
		for _, p := range st.Sim.Packages {
			if p.Name == m.name || p.Name == packageBase(m.name) {
				continue
			}
			pc := Change{Attr: "also " + p.Name, Old: p.Old, New: p.New}
			if pc.Old == "" {
				pc.Old = "(absent)"
			}
			if p.Action == "Purg" {
				pc.New = "(purged)"
			}
			d.Add(pc)
		}
		if st.Sim.Code != 0 {
			d.Notes = append(d.Notes, "apt's simulation with the current lists failed ("+st.Sim.errorText()+"); apt-get update may fix it")
		}
	}
	d.Detail = fmt.Sprintf("package %s op=%s to=%s update_cache=%t", m.name, c.op, c.to, m.updateCache)
	return d, nil
}

// Apply installs, upgrades, downgrades, removes or purges the package as d
// says.
func (m *Package) Apply(ctx context.Context, t *Target, d *Diff) error {
	c := d.Change("version")
	if c == nil {
		return nil
	}
	q := executor.ShellQuote(m.name)
	var script string
	switch c.New {
	case "":
		script = aptGet("remove", q)
	case "(purged)":
		script = aptGet("purge", q)
	default:
		if m.updateCache {
			script += aptUpdate
		}
		version, _, _ := strings.Cut(c.New, " ")
		switch {
		case m.version != "":
			script += aptGet("install --allow-downgrades", executor.ShellQuote(m.name+"="+m.version))
		case m.updateCache || strings.HasPrefix(version, "("):
			// The candidate after the update: read back for exactly this
			// package (apt would take a name it does not know for a
			// pattern) and pinned.
			script += "tend_c=$(" + candidateScript(m.name) + ")\n" +
				"if [ -z \"$tend_c\" ]; then echo 'tend: " + m.name + " is not available from the host'\\''s apt sources, even after apt-get update' >&2; exit 1; fi\n" +
				aptGet("install", q+"=\"$tend_c\"")
		default:
			if err := validDebVersion(version); err != nil {
				return fmt.Errorf("package %s: %w", m.name, err)
			}
			script += aptGet("install", executor.ShellQuote(m.name+"="+version))
		}
	}
	what := "apt-get for " + m.name
	res, err := t.Conn.Run(ctx, executor.Command{Script: aptEnv + script, Become: t.Become, Timeout: aptTimeout})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: exit status %d%s", what, res.ExitCode, outputTail(res))
	}
	return nil
}

// Undo returns what puts the package back as Check saw it, for a revert of
// a host that fails later in the run: a package the run installs is
// removed again (purged when it was not there at all), with the
// dependencies apt installs with it, unless that would remove anything
// else; a version the run replaces or removes is installed again when
// apt can still download it. A purge has no undo (the configuration files
// are gone), nor has a version apt no longer offers.
func (m *Package) Undo(t *Target) (executor.Command, bool) {
	c, st, err := m.plan(t)
	if err != nil || c.op == "" {
		return executor.Command{}, false
	}
	cmd := executor.Command{Become: t.Become, Timeout: aptTimeout}
	if c.from == "" {
		if c.op != "install" {
			return executor.Command{}, false
		}
		verb := "purge"
		if c.configOnly {
			verb = "remove"
		}
		names := []string{m.name}
		if st.Sim != nil && st.Sim.Code == 0 {
			for _, p := range st.Sim.Packages {
				if p.Action == "Inst" && p.Old == "" && p.Name != m.name && p.Name != packageBase(m.name) {
					names = append(names, p.Name)
				}
			}
		}
		cmd.Script = aptEnv + undoInstallScript(verb, names)
		return cmd, true
	}
	if c.op == "purge" || !st.Policy.available(c.from) {
		return executor.Command{}, false
	}
	// An upgrade, a downgrade or a removal: the versions that were there,
	// of the package and of those apt upgraded or removed with it (when
	// apt no longer offers one of these, the undo fails and the revert
	// says so). Dependencies an upgrade newly installed stay.
	pins := []string{executor.ShellQuote(m.name + "=" + c.from)}
	if st.Sim != nil {
		for _, p := range st.Sim.Packages {
			if p.Old != "" && p.Name != m.name && p.Name != packageBase(m.name) && validDebVersion(p.Old) == nil {
				pins = append(pins, executor.ShellQuote(p.Name+"="+p.Old))
			}
		}
	}
	cmd.Script = aptEnv + aptGet("install --allow-downgrades", strings.Join(pins, " "))
	return cmd, true
}

// packageBase is a package name without its architecture qualifier.
func packageBase(name string) string {
	base, _, _ := strings.Cut(name, ":")
	return base
}

// aptTimeout bounds an apt-get run (downloads and maintainer scripts).
const aptTimeout = 30 * time.Minute

// aptEnv starts every apt script: a C locale (apt's output is parsed and
// shown) and no questions.
const aptEnv = "LC_ALL=C; export LC_ALL\nDEBIAN_FRONTEND=noninteractive; export DEBIAN_FRONTEND\n"

// aptOptions keep the configuration files the admin changed, and wait for
// another apt or dpkg run to finish rather than fail at once.
const aptOptions = "-q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o DPkg::Lock::Timeout=120"

// aptUpdate refreshes the apt lists.
const aptUpdate = "apt-get -q -o DPkg::Lock::Timeout=120 update || exit $?\n"

// aptGet is one apt-get command (args already quoted), whose failure ends
// the script.
func aptGet(verb, args string) string {
	return "apt-get " + aptOptions + " " + verb + " " + args + " || exit $?\n"
}

// candidateScript prints apt's candidate version of name, or nothing when
// apt knows no such package (apt-cache policy would answer for the
// packages a name matches as a pattern: the block's header must be the
// name).
func candidateScript(name string) string {
	h1 := executor.ShellQuote(name + ":")
	h2 := executor.ShellQuote(packageBase(name) + ":")
	return "apt-cache policy " + executor.ShellQuote(name) + " 2>/dev/null | awk -v h1=" + h1 + " -v h2=" + h2 +
		` 'NR==1 && $0!=h1 && $0!=h2 {exit} $1=="Candidate:" {if ($2!="(none)") print $2; exit}'`
}

// undoInstallScript removes names (a package the run installed, then the
// dependencies apt installed with it) that are still installed, after
// checking with apt's simulation that it removes nothing else.
func undoInstallScript(verb string, names []string) string {
	var b strings.Builder
	b.WriteString("set --\nfor tend_p in " + executor.ShellJoin(names...) + "; do\n")
	b.WriteString("  tend_s=$(dpkg-query -W -f='${db:Status-Status}' \"$tend_p\" 2>/dev/null) || continue\n")
	b.WriteString("  case $tend_s in not-installed|config-files) ;; *) set -- \"$@\" \"$tend_p\" ;; esac\n")
	b.WriteString("done\n[ $# -gt 0 ] || exit 0\n")
	b.WriteString("tend_want=$(printf '%s\\n' \"$@\" | sed 's/:.*//' | sort -u)\n")
	b.WriteString("tend_got=$(apt-get -s -o Debug::NoLocking=1 " + verb + " \"$@\" 2>&1 | sed -n 's/^\\(Remv\\|Purg\\) \\([^ ]*\\).*/\\2/p' | sed 's/:.*//' | sort -u)\n")
	b.WriteString("if [ \"$tend_got\" != \"$tend_want\" ]; then\n")
	b.WriteString("  echo \"tend: removing $* again would also remove: $(printf '%s\\n' \"$tend_got\" | grep -vxF \"$tend_want\" | tr '\\n' ' ')(left installed)\" >&2\n  exit 1\nfi\n")
	b.WriteString("apt-get " + aptOptions + " " + verb + " \"$@\"\n")
	return b.String()
}

// packageFact reads a package's state: its dpkg status and installed
// version, the versions apt offers (apt-cache policy: the host's lists, no
// network), and, when Wish calls for a change, apt-get's simulation of it
// (what else apt would install, upgrade or remove).
type packageFact struct {
	Name string
	// Wish is "present", "latest", "=VERSION", "absent" or "purge".
	Wish string
}

// Key names the package and what the task wants of it (the simulation
// depends on it): "package:nginx present", "package:tend-probe =1.0-1".
func (f packageFact) Key() string { return "package:" + f.Name + " " + f.Wish }

// Script prints, in sections: whether the host is an apt/dpkg system,
// dpkg-query's status line of the package, apt-cache policy's answer, and
// the simulation's exit status and the lines that say what it would do.
func (f packageFact) Script() string {
	q := executor.ShellQuote(f.Name)
	var b strings.Builder
	b.WriteString(`if [ ! -e /etc/debian_version ] || ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || ! command -v apt-cache >/dev/null 2>&1; then echo '@@nodpkg'; exit 0; fi
LC_ALL=C; export LC_ALL
`)
	b.WriteString("tend_d=$(dpkg-query -W -f='${binary:Package} ${db:Status-Want} ${db:Status-Status} ${db:Status-Eflag} ${Version}\\n' " + q + " 2>/dev/null)\n")
	b.WriteString("echo \"@@dpkg $?\"\n[ -z \"$tend_d\" ] || printf '%s\\n' \"$tend_d\"\n")
	b.WriteString("tend_p=$(apt-cache policy " + q + " 2>/dev/null)\n")
	b.WriteString("echo \"@@policy $?\"\n[ -z \"$tend_p\" ] || printf '%s\\n' \"$tend_p\"\n")
	// The simulation runs only when something is to change, and for one
	// status line of a state tend manages.
	b.WriteString("tend_v='' tend_i=''\n# shellcheck disable=SC2034 # tend_v: read by some wishes only\ncase $tend_d in\n*'\n'*) tend_i=other ;;\n")
	b.WriteString("*' installed ok '*|*' triggers-pending ok '*|*' triggers-awaited ok '*) tend_i=yes; tend_v=${tend_d##* } ;;\n")
	b.WriteString("*' config-files ok '*) tend_i=conf ;;\n*' not-installed ok '*|'') tend_i=no ;;\n*) tend_i=other ;;\nesac\n")
	// tend_c is apt's candidate for exactly this name ("" when apt does
	// not know it by that name: apt-get would take it for a pattern).
	if f.Wish != "absent" && f.Wish != "purge" {
		b.WriteString("tend_c=$(printf '%s\\n' \"$tend_p\" | awk -v h1=" + executor.ShellQuote(f.Name+":") + " -v h2=" + executor.ShellQuote(packageBase(f.Name)+":") +
			` 'NR==1 && $0!=h1 && $0!=h2 {exit} $1=="Candidate:" {if ($2!="(none)") print $2; exit}')` + "\n")
	}
	var sim string
	switch {
	case f.Wish == "present":
		sim = "[ \"$tend_i\" = yes ] || [ -z \"$tend_c\" ] || tend_sim=" + executor.ShellQuote("install "+f.Name)
	case f.Wish == "latest":
		sim = "[ -z \"$tend_c\" ] || { [ \"$tend_i\" = yes ] && [ \"$tend_v\" = \"$tend_c\" ]; } || tend_sim=" + executor.ShellQuote("install "+f.Name)
	case strings.HasPrefix(f.Wish, "="):
		sim = "[ -z \"$tend_c\" ] || { [ \"$tend_i\" = yes ] && [ \"$tend_v\" = " + executor.ShellQuote(f.Wish[1:]) + " ]; } || tend_sim=" + executor.ShellQuote("install --allow-downgrades "+f.Name+f.Wish)
	case f.Wish == "absent":
		sim = "[ \"$tend_i\" != yes ] || tend_sim=" + executor.ShellQuote("remove "+f.Name)
	case f.Wish == "purge":
		sim = "[ \"$tend_i\" != yes ] && [ \"$tend_i\" != conf ] || tend_sim=" + executor.ShellQuote("purge "+f.Name)
	}
	b.WriteString("tend_sim=\nif [ \"$tend_i\" != other ]; then\n" + sim + "\nfi\n")
	b.WriteString("if [ -n \"$tend_sim\" ]; then\n")
	b.WriteString("  tend_o=$(apt-get -s -q -o Debug::NoLocking=1 $tend_sim 2>&1)\n")
	b.WriteString("  echo \"@@sim $?\"\n  printf '%s\\n' \"$tend_o\" | sed -n '/^\\(Inst\\|Remv\\|Purg\\|E:\\) /p'\nfi\necho '@@end'\n")
	return b.String()
}

// packageState is the parsed answer of a packageFact.
type packageState struct {
	// Supported is false on a host without apt and dpkg.
	Supported bool
	// Dpkg holds dpkg-query's lines for the name (none when dpkg does not
	// know it).
	Dpkg []dpkgLine
	// Policy is apt-cache policy's answer for the name.
	Policy aptPolicy
	// Sim is apt-get's simulation of the change, when one was due.
	Sim *aptSim
}

// dpkgLine is one package's status in dpkg's database.
type dpkgLine struct {
	Package, Want, Status, Eflag, Version string
}

// aptPolicy is what apt-cache policy says of one package.
type aptPolicy struct {
	// Known is set when apt knows the package by that exact name.
	Known     bool
	Installed string
	// Candidate is the version apt would install ("" for none).
	Candidate string
	Versions  []aptVersion
}

// aptVersion is one line of the version table: the version and where it
// comes from ("/var/lib/dpkg/status" alone: installed, not downloadable).
type aptVersion struct {
	Version string
	Sources []string
}

// available reports whether apt can download version v.
func (p aptPolicy) available(v string) bool {
	for _, av := range p.Versions {
		if av.Version != v {
			continue
		}
		for _, s := range av.Sources {
			if !strings.HasSuffix(s, " /var/lib/dpkg/status") && s != "/var/lib/dpkg/status" {
				return true
			}
		}
	}
	return false
}

// offers lists the downloadable versions, for messages.
func (p aptPolicy) offers() string {
	var vs []string
	for _, av := range p.Versions {
		if p.available(av.Version) {
			vs = append(vs, av.Version)
		}
	}
	if len(vs) == 0 {
		return "it offers none"
	}
	return "it offers " + strings.Join(vs, ", ")
}

// aptSim is what apt-get's simulation said it would do.
type aptSim struct {
	Code     int
	Packages []simPackage
	Errors   []string
}

// simPackage is one package the simulation installs (Inst), removes (Remv)
// or purges (Purg); Old is the version it replaces or removes.
type simPackage struct {
	Action, Name, Old, New string
}

func (s *aptSim) errorText() string {
	if len(s.Errors) == 0 {
		return fmt.Sprintf("apt-get's simulation exited with status %d", s.Code)
	}
	return strings.Join(s.Errors, "; ")
}

// installedPackage is the package's status as far as tend is concerned.
type installedPackage struct {
	Installed  bool
	ConfigOnly bool
	Version    string
	Want       string
}

// installed reads the dpkg status of name: installed (with its version),
// removed with its configuration files left, or absent. A package dpkg
// left half-way (half-installed, unpacked, half-configured, or needing a
// reinstall) is an error, and so is a name installed for several
// architectures.
func (s *packageState) installed(name string) (installedPackage, error) {
	switch len(s.Dpkg) {
	case 0:
		return installedPackage{}, nil
	case 1:
	default:
		var names []string
		for _, l := range s.Dpkg {
			names = append(names, l.Package)
		}
		return installedPackage{}, fmt.Errorf("package %s: dpkg knows it for several architectures (%s): name one, such as %s", name, strings.Join(names, ", "), names[0])
	}
	l := s.Dpkg[0]
	p := installedPackage{Want: l.Want}
	if l.Eflag != "ok" {
		return p, fmt.Errorf("package %s needs to be reinstalled (dpkg: %s, %s): repair it on the host (apt-get install --reinstall %s) before tend manages it", name, l.Status, l.Eflag, name)
	}
	switch l.Status {
	case "installed", "triggers-pending", "triggers-awaited":
		p.Installed, p.Version = true, l.Version
	case "config-files":
		p.ConfigOnly = true
	case "not-installed":
	default:
		return p, fmt.Errorf("package %s is %s (dpkg): an earlier install or removal did not finish; repair it on the host (dpkg --configure -a, apt-get -f install) before tend manages it", name, l.Status)
	}
	return p, nil
}

// dpkgStatuses are the values of ${db:Status-Status}, dpkgWants of
// ${db:Status-Want}, dpkgEflags of ${db:Status-Eflag}.
var (
	dpkgStatuses = map[string]bool{"not-installed": true, "config-files": true, "half-installed": true, "unpacked": true,
		"half-configured": true, "triggers-awaited": true, "triggers-pending": true, "installed": true}
	dpkgWants  = map[string]bool{"unknown": true, "install": true, "hold": true, "deinstall": true, "purge": true}
	dpkgEflags = map[string]bool{"ok": true, "reinstreq": true}
)

var (
	policyVersionRe = regexp.MustCompile(`^ (\*\*\*|   ) (\S+) (-?[0-9]+)$`)
	policySourceRe  = regexp.MustCompile(`^        (-?[0-9]+) (\S.*)$`)
	simRe           = regexp.MustCompile(`^(Inst|Remv|Purg) (\S+)(?: \[([^\]]*)\])?(?: \((\S+)[^)]*\))?`)
)

// Parse reads the script's sections. Anything it does not recognise is an
// error: a state tend did not understand is never taken for "absent".
func (f packageFact) Parse(out []byte, exitCode int) (any, error) {
	if exitCode != 0 {
		return nil, fmt.Errorf("package %s: the state script exited with status %d", f.Name, exitCode)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "@@nodpkg" {
		return &packageState{}, nil
	}
	st := &packageState{Supported: true}
	bad := func(format string, args ...any) (any, error) {
		return nil, fmt.Errorf("package %s: unexpected state output: %s", f.Name, fmt.Sprintf(format, args...))
	}
	if len(lines) == 0 || lines[len(lines)-1] != "@@end" {
		return bad("it does not end with @@end (cut short?)")
	}
	lines = lines[:len(lines)-1]
	sections := map[string][]string{}
	codes := map[string]int{}
	var order []string
	cur := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "@@") {
			name, code, ok := strings.Cut(strings.TrimPrefix(l, "@@"), " ")
			n, err := strconv.Atoi(code)
			if !ok || err != nil || (name != "dpkg" && name != "policy" && name != "sim") {
				return bad("marker %q", l)
			}
			if _, dup := codes[name]; dup {
				return bad("marker %q twice", l)
			}
			cur, codes[name] = name, n
			order = append(order, name)
			continue
		}
		if cur == "" {
			return bad("%q before any section", l)
		}
		sections[cur] = append(sections[cur], l)
	}
	if len(order) < 2 || order[0] != "dpkg" || order[1] != "policy" || (len(order) == 3 && order[2] != "sim") || len(order) > 3 {
		return bad("sections %v", order)
	}
	// dpkg-query exits 1 for a name it does not know, printing nothing.
	switch code := codes["dpkg"]; {
	case code == 0 && len(sections["dpkg"]) > 0:
	case code == 1 && len(sections["dpkg"]) == 0:
	default:
		return bad("dpkg-query exited with status %d and %d line(s)", code, len(sections["dpkg"]))
	}
	for _, l := range sections["dpkg"] {
		fields := strings.Split(l, " ")
		if len(fields) != 5 || !dpkgWants[fields[1]] || !dpkgStatuses[fields[2]] || !dpkgEflags[fields[3]] {
			return bad("dpkg-query line %q", l)
		}
		if fields[4] != "" && validDebVersion(fields[4]) != nil {
			return bad("version in dpkg-query line %q", l)
		}
		st.Dpkg = append(st.Dpkg, dpkgLine{Package: fields[0], Want: fields[1], Status: fields[2], Eflag: fields[3], Version: fields[4]})
	}
	if codes["policy"] != 0 {
		return bad("apt-cache policy exited with status %d", codes["policy"])
	}
	pol, err := parsePolicy(f.Name, sections["policy"])
	if err != nil {
		return bad("%v", err)
	}
	st.Policy = pol
	if _, ok := codes["sim"]; ok {
		sim := &aptSim{Code: codes["sim"]}
		for _, l := range sections["sim"] {
			if strings.HasPrefix(l, "E: ") {
				sim.Errors = append(sim.Errors, strings.TrimPrefix(l, "E: "))
				continue
			}
			m := simRe.FindStringSubmatch(l)
			if m == nil || validPackageName(m[2]) != nil || (m[1] == "Inst" && m[4] == "") {
				return bad("apt-get simulation line %q", l)
			}
			sim.Packages = append(sim.Packages, simPackage{Action: m[1], Name: m[2], Old: m[3], New: m[4]})
		}
		st.Sim = sim
	}
	return st, nil
}

// parsePolicy reads apt-cache policy's output: one block per package the
// name matched, each a header line "NAME:", then Installed, Candidate, an
// optional Package pin, and the version table. Only the block whose header
// is the name counts (apt answers a name it does not know as a pattern).
func parsePolicy(name string, lines []string) (aptPolicy, error) {
	var pol aptPolicy
	var mine bool
	var inTable bool
	cur := -1
	for _, l := range lines {
		switch {
		case l == "":
			continue
		case !strings.HasPrefix(l, " "):
			if !strings.HasSuffix(l, ":") {
				return pol, fmt.Errorf("apt-cache policy line %q", l)
			}
			h := strings.TrimSuffix(l, ":")
			wasMine := mine
			mine = !pol.Known && (h == name || h == packageBase(name))
			if wasMine && mine {
				return pol, errors.New("apt-cache policy answered twice for the package")
			}
			if mine {
				pol.Known = true
			}
			inTable, cur = false, -1
		case strings.HasPrefix(l, "  Installed: "):
			if mine {
				pol.Installed = noneEmpty(strings.TrimPrefix(l, "  Installed: "))
			}
		case strings.HasPrefix(l, "  Candidate: "):
			if mine {
				pol.Candidate = noneEmpty(strings.TrimPrefix(l, "  Candidate: "))
			}
		case strings.HasPrefix(l, "  Package pin: "):
		case l == "  Version table:":
			inTable = true
		default:
			if !inTable {
				return pol, fmt.Errorf("apt-cache policy line %q", l)
			}
			if m := policyVersionRe.FindStringSubmatch(l); m != nil {
				if mine {
					pol.Versions = append(pol.Versions, aptVersion{Version: m[2]})
					cur = len(pol.Versions) - 1
				}
				continue
			}
			if m := policySourceRe.FindStringSubmatch(l); m != nil {
				if mine {
					if cur < 0 {
						return pol, fmt.Errorf("apt-cache policy source %q before any version", l)
					}
					pol.Versions[cur].Sources = append(pol.Versions[cur].Sources, m[2])
				}
				continue
			}
			return pol, fmt.Errorf("apt-cache policy line %q", l)
		}
	}
	if pol.Known {
		for _, v := range []string{pol.Installed, pol.Candidate} {
			if v != "" && validDebVersion(v) != nil {
				return pol, fmt.Errorf("apt-cache policy version %q", v)
			}
		}
	}
	return pol, nil
}

// noneEmpty turns apt's "(none)" into "".
func noneEmpty(s string) string {
	if s == "(none)" {
		return ""
	}
	return s
}
