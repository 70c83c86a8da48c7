package modules

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "gunicorn_service",
		Summary: "A gunicorn app server as a systemd service, from typed and validated gunicorn and restart settings",
		New:     func() Module { return &GunicornService{} },
	})
}

var _ Module = (*GunicornService)(nil)

// GunicornService renders a systemd unit for a gunicorn server from typed
// settings and manages it like systemd_unit (reload and restart only on
// change).
//
// The label is the service name (".service" is appended when missing).
// Required: gunicorn (absolute path of the executable), app
// ("module:callable"), bind ("unix:/abs/path", "HOST:PORT", "[v6]:PORT",
// "fd://N", or a list of them). Optional: directory, user, group,
// description, type (notify by default: gunicorn >= 20 tells systemd when
// it is ready; use "simple" for older versions), workers (a number or
// "auto" = 2 × the host's CPUs + 1), threads, timeout, graceful_timeout,
// keep_alive, max_requests, max_requests_jitter, worker_class, environment
// (map), environment_file, extra_args, restart (default "always"),
// restart_sec (default 5 when restart is not "no"), start_limit_interval,
// start_limit_burst, start_limit_action (rendered in [Unit], where modern
// systemd reads them), enabled (default true), state (default "started"),
// wanted_by (default multi-user.target), after (default network.target),
// unit_path, restart_on_change (default true), settle (default 2s: how long
// the service must stay up after tend restarts it), drop_ins ("refuse" or
// "allow", as for systemd_unit).
//
// Decode warns when the restart settings let a crash loop hit the start
// limit, which leaves the unit failed for good (see startLimitWarning). A
// sensitive value is refused in paths and command-line settings, and warned
// about elsewhere in the unit (environment): unit files are world-readable.
type GunicornService struct {
	g    gunicornUnit
	spec unitSpec
	// needs is what the unit needs from the host before it can start.
	needs *preflight
}

type gunicornConfig struct {
	Gunicorn           *string   `hcl:"gunicorn"`
	App                *string   `hcl:"app"`
	Bind               cty.Value `hcl:"bind"`
	Directory          *string   `hcl:"directory,optional"`
	User               *string   `hcl:"user,optional"`
	Group              *string   `hcl:"group,optional"`
	Description        *string   `hcl:"description,optional"`
	Type               *string   `hcl:"type,optional"`
	Workers            cty.Value `hcl:"workers,optional"`
	Threads            *int      `hcl:"threads,optional"`
	Timeout            *int      `hcl:"timeout,optional"`
	GracefulTimeout    *int      `hcl:"graceful_timeout,optional"`
	KeepAlive          *int      `hcl:"keep_alive,optional"`
	MaxRequests        *int      `hcl:"max_requests,optional"`
	MaxRequestsJitter  *int      `hcl:"max_requests_jitter,optional"`
	WorkerClass        *string   `hcl:"worker_class,optional"`
	Environment        cty.Value `hcl:"environment,optional"`
	EnvironmentFile    *string   `hcl:"environment_file,optional"`
	ExtraArgs          []string  `hcl:"extra_args,optional"`
	Restart            *string   `hcl:"restart,optional"`
	RestartSec         cty.Value `hcl:"restart_sec,optional"`
	StartLimitInterval cty.Value `hcl:"start_limit_interval,optional"`
	StartLimitBurst    *int      `hcl:"start_limit_burst,optional"`
	StartLimitAction   *string   `hcl:"start_limit_action,optional"`
	Enabled            *bool     `hcl:"enabled,optional"`
	State              *string   `hcl:"state,optional"`
	WantedBy           cty.Value `hcl:"wanted_by,optional"`
	After              cty.Value `hcl:"after,optional"`
	UnitPath           *string   `hcl:"unit_path,optional"`
	RestartOnChange    *bool     `hcl:"restart_on_change,optional"`
	Settle             *string   `hcl:"settle,optional"`
	DropIns            *string   `hcl:"drop_ins,optional"`
}

// gunicornUnit is a validated gunicorn_service: everything needed to render
// the unit file, given the host's CPU count.
type gunicornUnit struct {
	Label       string
	Unit        string
	Gunicorn    string
	App         string
	Binds       []string
	Directory   string
	User        string
	Group       string
	Description string
	Type        string
	// Workers is 0 when not set; WorkersAuto asks for 2 × CPUs + 1.
	Workers     int
	WorkersAuto bool
	// Optional integer flags, nil when not set.
	Threads, Timeout, GracefulTimeout, KeepAlive, MaxRequests, MaxRequestsJitter *int
	WorkerClass                                                                  string
	Environment                                                                  map[string]string
	EnvironmentFile                                                              string
	ExtraArgs                                                                    []string
	Restart                                                                      string
	RestartSec                                                                   *time.Duration
	StartLimitInterval                                                           *time.Duration
	StartLimitBurst                                                              *int
	StartLimitAction                                                             string
	WantedBy                                                                     []string
	After                                                                        []string
}

var (
	appRe         = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(\(.*\))?)?$`)
	workerClassRe = regexp.MustCompile(`^[A-Za-z0-9_.:#-]+$`)
	envKeyRe      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hostRe        = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
)

var restartValues = []string{"no", "always", "on-success", "on-failure", "on-abnormal", "on-abort", "on-watchdog"}

var startLimitActions = []string{"none", "reboot", "reboot-force", "reboot-immediate", "poweroff", "poweroff-force", "poweroff-immediate", "exit", "exit-force", "soft-reboot", "soft-reboot-force", "kexec", "kexec-force", "halt", "halt-force", "halt-immediate"}

// systemd's defaults (DefaultStartLimitIntervalSec, DefaultStartLimitBurst)
// and tend's default RestartSec for gunicorn services.
const (
	systemdStartLimitInterval = 10 * time.Second
	systemdStartLimitBurst    = 5
	defaultGunicornRestartSec = 5 * time.Second
)

// Decode reads and validates the gunicorn service, before any connection.
func (m *GunicornService) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg gunicornConfig
	dec, diags := decodeBody(body, ctx, &cfg)
	if diags.HasErrors() {
		return diags
	}
	refused := append(refuseSensitive(body, dec.marked, pathRefusal, gunicornPathAttrs...), refuseSensitive(body, dec.marked, argvRefusal, gunicornArgvAttrs...)...)
	if refused.HasErrors() {
		return append(diags, refused...)
	}
	diags = append(diags, gunicornSecretWarnings(body, dec.marked)...)
	g := gunicornUnit{Label: label}
	bad := func(attr, summary, detail string) {
		diags = append(diags, errAt(body, attr, summary, detail))
	}
	name, err := unitName(label)
	if err != nil {
		diags = append(diags, labelErrAt(body, "Invalid service name", err.Error()))
	}
	g.Unit = name

	if d := append(required(body, dec, "gunicorn", cfg.Gunicorn != nil), required(body, dec, "app", cfg.App != nil)...); d != nil {
		return append(diags, d...)
	}
	if !dec.unknown["gunicorn"] {
		if cfg.Gunicorn != nil {
			g.Gunicorn = *cfg.Gunicorn
		}
		if p, err := cleanAbsPath(g.Gunicorn); err != nil {
			bad("gunicorn", "Invalid gunicorn path", err.Error()+": give the absolute path of the gunicorn executable, such as \"/srv/app/venv/bin/gunicorn\".")
		} else {
			g.Gunicorn = p
		}
	}
	if !dec.unknown["app"] {
		if cfg.App != nil {
			g.App = *cfg.App
		}
		if !appRe.MatchString(g.App) {
			bad("app", "Invalid app", fmt.Sprintf("%q is not a WSGI application reference: write \"module:callable\", such as \"rotasystems.wsgi:application\".", g.App))
		}
	}

	binds, err := stringOrList(cfg.Bind)
	if err == nil && len(binds) == 0 && !dec.unknown["bind"] {
		err = fmt.Errorf("at least one address is required")
	}
	if err != nil && isSet(cfg.Bind) && cfg.Bind.Type() == cty.Number {
		// bind = 8000: a port alone.
		n := cfg.Bind.AsBigFloat().Text('f', -1)
		err = fmt.Errorf("bind = %s is a number; an address is a string: write bind = \"127.0.0.1:%s\" (or \"0.0.0.0:%s\" for every interface)", n, n, n)
	}
	if err != nil {
		bad("bind", "Invalid bind", err.Error())
	}
	for _, b := range binds {
		if err := validBind(b); err != nil {
			bad("bind", "Invalid bind", err.Error())
		}
	}
	g.Binds = binds

	if cfg.Directory != nil {
		if p, err := cleanAbsPath(*cfg.Directory); err != nil {
			bad("directory", "Invalid directory", err.Error())
		} else {
			g.Directory = p
		}
	}
	for _, a := range []struct {
		name string
		val  *string
		dst  *string
	}{{"user", cfg.User, &g.User}, {"group", cfg.Group, &g.Group}} {
		if a.val == nil {
			continue
		}
		if err := validAccount(*a.val); err != nil {
			bad(a.name, "Invalid "+a.name, err.Error())
		}
		*a.dst = *a.val
	}
	g.Description = strings.TrimSuffix(name, ".service") + " (gunicorn)"
	if cfg.Description != nil {
		if strings.ContainsAny(*cfg.Description, "\r\n") || strings.TrimSpace(*cfg.Description) == "" {
			bad("description", "Invalid description", "The description must be one non-empty line.")
		}
		g.Description = *cfg.Description
	}
	g.Type = "notify"
	if cfg.Type != nil {
		switch *cfg.Type {
		case "notify", "simple", "exec":
			g.Type = *cfg.Type
		default:
			bad("type", "Invalid type", fmt.Sprintf("type must be \"notify\" (gunicorn >= 20), \"exec\" or \"simple\", not %q.", *cfg.Type))
		}
	}

	if isSet(cfg.Workers) {
		w := cfg.Workers
		switch {
		case !w.IsKnown():
			bad("workers", "Invalid workers", "The value is not known before apply.")
		case w.Type() == cty.String && w.AsString() == "auto":
			g.WorkersAuto = true
		case w.Type() == cty.Number || w.Type() == cty.String && numericString(w.AsString()):
			// A number, or a number given as a string (--var workers=3).
			nv, _ := convert.Convert(w, cty.Number)
			bf := nv.AsBigFloat()
			n, acc := bf.Int64()
			if !bf.IsInt() || acc != 0 || n < 1 || n > 1024 {
				bad("workers", "Invalid workers", fmt.Sprintf("workers must be a whole number from 1 to 1024, or \"auto\", not %s.", bf.Text('f', -1)))
			} else {
				g.Workers = int(n)
			}
		default:
			bad("workers", "Invalid workers", "workers must be a number of worker processes or \"auto\" (2 × the host's CPUs + 1).")
		}
	}
	for _, a := range []struct {
		name string
		val  *int
		min  int
		dst  **int
	}{
		{"threads", cfg.Threads, 1, &g.Threads},
		{"timeout", cfg.Timeout, 1, &g.Timeout},
		{"graceful_timeout", cfg.GracefulTimeout, 1, &g.GracefulTimeout},
		{"keep_alive", cfg.KeepAlive, 1, &g.KeepAlive},
		{"max_requests", cfg.MaxRequests, 1, &g.MaxRequests},
		{"max_requests_jitter", cfg.MaxRequestsJitter, 0, &g.MaxRequestsJitter},
	} {
		if a.val == nil {
			continue
		}
		if *a.val < a.min {
			bad(a.name, "Invalid "+a.name, fmt.Sprintf("%s must be at least %d, not %d.", a.name, a.min, *a.val))
		}
		*a.dst = a.val
	}
	if cfg.MaxRequestsJitter != nil && !dec.given("max_requests", cfg.MaxRequests != nil) {
		bad("max_requests_jitter", "max_requests_jitter without max_requests", "The jitter only spreads worker restarts set by max_requests; set max_requests too.")
	}
	if cfg.WorkerClass != nil {
		if !workerClassRe.MatchString(*cfg.WorkerClass) {
			bad("worker_class", "Invalid worker_class", fmt.Sprintf("%q is not a gunicorn worker class such as \"sync\", \"gthread\" or \"uvicorn.workers.UvicornWorker\".", *cfg.WorkerClass))
		}
		g.WorkerClass = *cfg.WorkerClass
	}
	env, err := stringMap(cfg.Environment)
	if err != nil {
		bad("environment", "Invalid environment", err.Error())
	}
	for k, v := range env {
		if !envKeyRe.MatchString(k) {
			bad("environment", "Invalid environment", fmt.Sprintf("%q is not an environment variable name.", k))
		}
		if strings.ContainsRune(v, 0) {
			bad("environment", "Invalid environment", fmt.Sprintf("The value of %s holds a NUL byte.", k))
		}
	}
	g.Environment = env
	if cfg.EnvironmentFile != nil {
		p := strings.TrimPrefix(*cfg.EnvironmentFile, "-")
		if _, err := cleanAbsPath(p); err != nil {
			bad("environment_file", "Invalid environment_file", err.Error())
		}
		g.EnvironmentFile = *cfg.EnvironmentFile
	}
	for i, a := range cfg.ExtraArgs {
		if strings.ContainsRune(a, 0) {
			bad("extra_args", "Invalid extra_args", fmt.Sprintf("Argument %d holds a NUL byte.", i))
		}
	}
	g.ExtraArgs = cfg.ExtraArgs

	g.Restart = "always"
	if cfg.Restart != nil {
		g.Restart = *cfg.Restart
		if !contains(restartValues, g.Restart) {
			bad("restart", "Invalid restart", fmt.Sprintf("restart must be one of %s, not %q.", strings.Join(restartValues, ", "), g.Restart))
		}
	}
	if isSet(cfg.RestartSec) {
		d, err := secondsValue(cfg.RestartSec)
		if err != nil {
			bad("restart_sec", "Invalid restart_sec", err.Error())
		}
		g.RestartSec = &d
	} else if g.Restart != "no" {
		d := defaultGunicornRestartSec
		g.RestartSec = &d
	}
	if isSet(cfg.StartLimitInterval) {
		d, err := secondsValue(cfg.StartLimitInterval)
		if err != nil {
			bad("start_limit_interval", "Invalid start_limit_interval", err.Error())
		}
		g.StartLimitInterval = &d
	}
	if cfg.StartLimitBurst != nil {
		if *cfg.StartLimitBurst < 1 {
			bad("start_limit_burst", "Invalid start_limit_burst", fmt.Sprintf("start_limit_burst must be at least 1, not %d.", *cfg.StartLimitBurst))
		}
		g.StartLimitBurst = cfg.StartLimitBurst
	}
	if cfg.StartLimitAction != nil {
		if !contains(startLimitActions, *cfg.StartLimitAction) {
			bad("start_limit_action", "Invalid start_limit_action", fmt.Sprintf("start_limit_action must be one of %s, not %q.", strings.Join(startLimitActions, ", "), *cfg.StartLimitAction))
		}
		g.StartLimitAction = *cfg.StartLimitAction
	}

	g.WantedBy = []string{"multi-user.target"}
	g.After = []string{"network.target"}
	for _, a := range []struct {
		name string
		val  cty.Value
		dst  *[]string
	}{{"wanted_by", cfg.WantedBy, &g.WantedBy}, {"after", cfg.After, &g.After}} {
		if !isSet(a.val) {
			continue
		}
		units, err := stringOrList(a.val)
		if err != nil {
			bad(a.name, "Invalid "+a.name, err.Error())
			continue
		}
		for _, u := range units {
			if !unitNameRe.MatchString(u) {
				bad(a.name, "Invalid "+a.name, fmt.Sprintf("%q is not a unit name.", u))
			}
		}
		*a.dst = units
	}

	path := "/etc/systemd/system/" + name
	if cfg.UnitPath != nil {
		if path, err = cleanAbsPath(*cfg.UnitPath); err != nil {
			bad("unit_path", "Invalid unit_path", err.Error())
		}
	}
	spec := unitSpec{Name: name, File: unitFile(path, name, nil), RestartOnChange: true, State: "started"}
	// Any sensitive value in the settings makes the rendered unit
	// sensitive: its content never reaches a diff, a log or --json.
	spec.File.Sensitive = len(dec.marked) > 0
	enabled := true
	if cfg.Enabled != nil {
		enabled = *cfg.Enabled
	}
	diags = append(diags, decodeUnitState(body, &enabled, cfg.State, &spec)...)
	if cfg.RestartOnChange != nil {
		spec.RestartOnChange = *cfg.RestartOnChange
	}
	var sd hcl.Diagnostics
	spec.Settle, sd = decodeSettle(body, cfg.Settle)
	diags = append(diags, sd...)
	spec.AllowDropIns, sd = decodeDropIns(body, cfg.DropIns)
	diags = append(diags, sd...)
	if *spec.Enabled && len(g.WantedBy) == 0 && !dec.unknown["enabled"] {
		bad("wanted_by", "Unit cannot be enabled", "enabled = true needs at least one wanted_by target.")
	}
	// The warning weighs the restart settings together: not when one of
	// them is unknown (its default would stand in for it).
	if !diags.HasErrors() && !dec.anyUnknown("restart", "restart_sec", "start_limit_interval", "start_limit_burst", "start_limit_action") {
		if w := startLimitWarning(body, &g); w != nil {
			diags = append(diags, w)
		}
	}
	m.g, m.spec = g, spec
	return diags
}

// Where a gunicorn_service's settings go: paths, the command line (both
// refused when sensitive), and what is neither but still lands in the unit
// file (a warning when sensitive, see unitSecretWarning).
var (
	gunicornPathAttrs = []string{"unit_path", "gunicorn", "directory", "environment_file"}
	gunicornArgvAttrs = []string{"app", "bind", "workers", "threads", "worker_class", "timeout", "graceful_timeout",
		"keep_alive", "max_requests", "max_requests_jitter", "extra_args"}
	gunicornNotInUnit = []string{"enabled", "state", "restart_on_change"}
)

// gunicornSecretWarnings warns about each sensitive setting written into the
// unit file (environment above all).
func gunicornSecretWarnings(body hcl.Body, marked map[string]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, k := range sortedKeys(marked) {
		if contains(gunicornNotInUnit, k) {
			continue
		}
		what := k
		if k == "environment" {
			what = "environment (written as Environment= lines)"
		}
		diags = append(diags, unitSecretWarning(attrRange(body, k), what))
	}
	return diags
}

// startLimitWarning warns about the seed's trap. systemd refuses a start when
// more than StartLimitBurst starts happened within StartLimitIntervalSec, and
// a unit refused that way ends "failed" with result start-limit-hit: Restart=
// does not apply to it, so it stays down until someone intervenes. In a
// crash loop the starts come RestartSec apart (plus the time to crash), so
// start number burst+1 comes burst × RestartSec after the first; if that is
// within the interval, a loop of quick crashes hits the limit.
func startLimitWarning(body hcl.Body, g *gunicornUnit) *hcl.Diagnostic {
	if g.Restart == "no" || g.StartLimitAction != "" && g.StartLimitAction != "none" {
		return nil
	}
	interval, burst, restartSec := systemdStartLimitInterval, systemdStartLimitBurst, time.Duration(0)
	if g.StartLimitInterval != nil {
		interval = *g.StartLimitInterval
	}
	if g.StartLimitBurst != nil {
		burst = *g.StartLimitBurst
	}
	if g.RestartSec != nil {
		restartSec = *g.RestartSec
	}
	if interval == 0 {
		return nil // rate limiting disabled
	}
	window := time.Duration(burst) * restartSec
	if window > interval {
		return nil
	}
	attr := "start_limit_interval"
	if g.StartLimitInterval == nil {
		attr = "start_limit_burst"
		if g.StartLimitBurst == nil {
			attr = "restart_sec"
		}
	}
	suggest := window / 2
	if suggest < time.Second {
		suggest = time.Second
	}
	suggest = suggest.Truncate(time.Second)
	return warnAt(body, attr, "A crash loop will leave the service failed for good",
		fmt.Sprintf("With restart = %q, restart_sec = %s and start_limit_burst = %d, a service that keeps crashing at once is started for the %s time %s after the first, within start_limit_interval = %s. systemd then refuses the start (start-limit-hit) and the unit stays failed: Restart= does not restart it, so the outage lasts until someone runs systemctl. Set start_limit_interval below restart_sec × start_limit_burst = %s (for example start_limit_interval = %d), set start_limit_interval = 0 to never give up, or set start_limit_action.",
			g.Restart, systemdTimespanHuman(restartSec), burst, ordinal(burst+1), systemdTimespanHuman(window), systemdTimespanHuman(interval), systemdTimespanHuman(window), int(suggest/time.Second)))
}

func systemdTimespanHuman(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

func numericString(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stringOrList reads a string or a list of strings.
func stringOrList(v cty.Value) ([]string, error) {
	if !isSet(v) {
		return nil, nil
	}
	if v.IsKnown() && v.Type() == cty.String {
		return []string{v.AsString()}, nil
	}
	if v.Type().IsPrimitiveType() {
		return nil, fmt.Errorf("a string or a list of strings is required, not %s", v.Type().FriendlyName())
	}
	return stringList(v)
}

// validBind checks one gunicorn bind address.
func validBind(b string) error {
	switch {
	case strings.HasPrefix(b, "unix:"):
		p := strings.TrimPrefix(b, "unix:")
		if _, err := cleanAbsPath(p); err != nil {
			return fmt.Errorf("bind %q: the socket path must be absolute: %v", b, err)
		}
		return nil
	case strings.HasPrefix(b, "fd://"):
		n, err := strconv.Atoi(strings.TrimPrefix(b, "fd://"))
		if err != nil || n < 0 {
			return fmt.Errorf("bind %q: fd:// needs a file descriptor number, such as fd://3", b)
		}
		return nil
	}
	host, port, err := net.SplitHostPort(b)
	if err != nil {
		return fmt.Errorf("bind %q is not an address: write \"unix:/abs/path.sock\", \"HOST:PORT\", \"[IPv6]:PORT\" or \"fd://N\"", b)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("bind %q: the port must be a number from 1 to 65535", b)
	}
	if strings.HasPrefix(b, "[") {
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return fmt.Errorf("bind %q: %q is not an IPv6 address", b, host)
		}
		return nil
	}
	if host == "" || !hostRe.MatchString(host) {
		return fmt.Errorf("bind %q: %q is not a host name or IPv4 address (write IPv6 addresses in brackets)", b, host)
	}
	return nil
}

// args returns gunicorn's command line for a host with cpus CPUs, in a fixed
// order: workers, threads, worker-class, timeout, graceful-timeout,
// keep-alive, max-requests, max-requests-jitter, bind, extra args, app.
func (g *gunicornUnit) args(cpus int) ([]string, error) {
	args := []string{g.Gunicorn}
	workers := g.Workers
	if g.WorkersAuto {
		if cpus < 1 {
			return nil, fmt.Errorf("workers = \"auto\" needs the host's CPU count, which was not gathered")
		}
		workers = 2*cpus + 1
	}
	if workers > 0 {
		args = append(args, "--workers", strconv.Itoa(workers))
	}
	intFlag := func(flag string, v *int) {
		if v != nil {
			args = append(args, flag, strconv.Itoa(*v))
		}
	}
	intFlag("--threads", g.Threads)
	if g.WorkerClass != "" {
		args = append(args, "--worker-class", g.WorkerClass)
	}
	intFlag("--timeout", g.Timeout)
	intFlag("--graceful-timeout", g.GracefulTimeout)
	intFlag("--keep-alive", g.KeepAlive)
	intFlag("--max-requests", g.MaxRequests)
	intFlag("--max-requests-jitter", g.MaxRequestsJitter)
	for _, b := range g.Binds {
		args = append(args, "--bind", b)
	}
	args = append(args, g.ExtraArgs...)
	args = append(args, g.App)
	return args, nil
}

// render returns the unit file for a host with cpus CPUs.
func (g *gunicornUnit) render(cpus int) ([]byte, error) {
	args, err := g.args(cpus)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	line := func(k, v string) { b.WriteString(k + "=" + v + "\n") }
	fmt.Fprintf(&b, "# Managed by tend (gunicorn_service %q). Local changes will be overwritten.\n", g.Label)
	b.WriteString("[Unit]\n")
	line("Description", systemdValue(g.Description))
	if len(g.After) > 0 {
		line("After", strings.Join(g.After, " "))
	}
	if g.StartLimitInterval != nil {
		line("StartLimitIntervalSec", systemdTimespan(*g.StartLimitInterval))
	}
	if g.StartLimitBurst != nil {
		line("StartLimitBurst", strconv.Itoa(*g.StartLimitBurst))
	}
	if g.StartLimitAction != "" {
		line("StartLimitAction", g.StartLimitAction)
	}
	b.WriteString("\n[Service]\n")
	line("Type", g.Type)
	if g.Type == "notify" {
		line("NotifyAccess", "main")
	}
	if g.User != "" {
		line("User", systemdValue(g.User))
	}
	if g.Group != "" {
		line("Group", systemdValue(g.Group))
	}
	if g.Directory != "" {
		line("WorkingDirectory", systemdValue(g.Directory))
	}
	keys := make([]string, 0, len(g.Environment))
	for k := range g.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line("Environment", systemdEnvAssignment(k, g.Environment[k]))
	}
	if g.EnvironmentFile != "" {
		line("EnvironmentFile", systemdValue(g.EnvironmentFile))
	}
	line("ExecStart", systemdExecLine(args))
	line("ExecReload", "/bin/kill -s HUP $MAINPID")
	line("KillMode", "mixed")
	line("Restart", g.Restart)
	if g.RestartSec != nil {
		line("RestartSec", systemdTimespan(*g.RestartSec))
	}
	if len(g.WantedBy) > 0 {
		b.WriteString("\n[Install]\n")
		line("WantedBy", strings.Join(g.WantedBy, " "))
	}
	return []byte(b.String()), nil
}

// Probes reads the unit file and the unit.
func (m *GunicornService) Probes() []executor.Probe {
	return append(m.spec.probes(), m.preflight().probe()...)
}

// preflight returns what the unit needs from the host (built once).
func (m *GunicornService) preflight() *preflight {
	if m.spec.State == "stopped" {
		return nil
	}
	if m.needs == nil {
		var socks []string
		for _, b := range m.g.Binds {
			if p, ok := strings.CutPrefix(b, "unix:"); ok {
				socks = append(socks, p)
			}
		}
		m.needs = unitNeeds(m.g.User, m.g.Group, m.g.Directory, m.g.Gunicorn, socks)
	}
	return m.needs
}

// Check renders the unit for the host (workers = "auto" uses its CPU count)
// and compares it and the unit with the gathered state.
func (m *GunicornService) Check(ctx context.Context, t *Target) (*Diff, error) {
	cpus := 0
	if t.State != nil {
		cpus = t.State.Facts.CPUs
	}
	content, err := m.g.render(cpus)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.spec.Name, err)
	}
	// The unit rendered for this host goes into the diff (its NewContent,
	// which Apply writes); the module itself is left as it was decoded.
	spec := m.spec
	spec.File.Content = content
	d, err := spec.check(t)
	if err != nil {
		return nil, err
	}
	return preflightResult(m.spec.Name, m.preflight(), t, d)
}

// Apply writes the unit file; the engine runs the effects of d.
func (m *GunicornService) Apply(ctx context.Context, t *Target, d *Diff) error {
	return m.spec.apply(ctx, t, d)
}
