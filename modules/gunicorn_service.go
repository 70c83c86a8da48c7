package modules

import (
	"context"
	"errors"
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
		Config:  func() any { return &gunicornConfig{} },
		Doc: `Renders a systemd unit for a gunicorn app server from typed settings and manages it like systemd_unit: the unit file (written 0644 root:root), its enablement and run state, with one daemon-reload and a restart only when the file changed, then settle. The label is the service name; ".service" is appended when missing. gunicorn's settings become one correctly quoted ExecStart= line; the start limits go in [Unit], where modern systemd reads them.

Decode warns when the restart settings let a crash loop hit systemd's start limit, which leaves the unit failed for good. Before the unit is changed, its user, group, directory, gunicorn executable and the directories of its unix sockets are checked on the host.

A sensitive value is refused in paths and in the settings written on gunicorn's command line (the process list shows them), and warned about elsewhere in the unit: unit files are world-readable. Pass secrets with environment_file, naming a file task with sensitive content (created 0600).`,
		Example: `gunicorn_service "app" {
  gunicorn         = "/srv/app/venv/bin/gunicorn"
  app              = "app.wsgi:application"
  bind             = "unix:/run/app/gunicorn.sock"
  directory        = "/srv/app"
  user             = "app"
  group            = "app"
  workers          = "auto"
  timeout          = 30
  environment      = { DJANGO_SETTINGS_MODULE = "app.settings" }
  environment_file = "/etc/app/secrets.env"
}
`,
	})
}

var _ Module = (*GunicornService)(nil)

// GunicornService renders a systemd unit for a gunicorn server from typed
// settings and manages it like systemd_unit (its registry entry and the
// tags of gunicornConfig document it).
type GunicornService struct {
	g    gunicornUnit
	spec unitSpec
	// needs is what the unit needs from the host before it can start.
	needs *preflight
}

// The tags of gunicornConfig say where a setting goes: a path or the
// command line (sensitive:"path", "argv": refused when sensitive), or the
// unit file (sensitive:"unit": warned about).
type gunicornConfig struct {
	Gunicorn           *string   `hcl:"gunicorn,optional" required:"true" sensitive:"path" doc:"The absolute path of the gunicorn executable, such as \"/srv/app/venv/bin/gunicorn\"."`
	App                *string   `hcl:"app,optional" required:"true" sensitive:"argv" doc:"The WSGI application, \"module:callable\", such as \"app.wsgi:application\"."`
	Bind               cty.Value `hcl:"bind,optional" required:"true" sensitive:"argv" type:"string or list" doc:"Where gunicorn listens: \"unix:/abs/path.sock\", \"HOST:PORT\", \"[IPv6]:PORT\" or \"fd://N\", or a list of them."`
	Directory          *string   `hcl:"directory,optional" sensitive:"path" doc:"The absolute working directory (WorkingDirectory=)."`
	User               *string   `hcl:"user,optional" sensitive:"unit" doc:"The user the server runs as (User=); root when not set."`
	Group              *string   `hcl:"group,optional" sensitive:"unit" doc:"The group the server runs as (Group=); the user's group when not set."`
	Description        *string   `hcl:"description,optional" sensitive:"unit" doc:"The unit's Description=, one line; \"NAME (gunicorn)\" when not set."`
	Type               *string   `hcl:"type,optional" sensitive:"unit" enum:"notify,exec,simple" default:"notify" doc:"The unit's Type=: with \"notify\", gunicorn (20 or later) tells systemd when it is ready; use \"exec\" or \"simple\" for older versions."`
	Workers            cty.Value `hcl:"workers,optional" sensitive:"argv" type:"number or \"auto\"" doc:"The number of worker processes, 1 to 1024, or \"auto\": 2 × the host's CPUs + 1; gunicorn's default (1) when not set."`
	Threads            *int      `hcl:"threads,optional" sensitive:"argv" min:"1" doc:"Threads per worker (--threads)."`
	Timeout            *int      `hcl:"timeout,optional" sensitive:"argv" min:"1" doc:"Seconds a silent worker is given before it is killed and restarted (--timeout)."`
	GracefulTimeout    *int      `hcl:"graceful_timeout,optional" sensitive:"argv" min:"1" doc:"Seconds workers get to finish their requests on a restart (--graceful-timeout)."`
	KeepAlive          *int      `hcl:"keep_alive,optional" sensitive:"argv" min:"1" doc:"Seconds to wait for the next request on a keep-alive connection (--keep-alive)."`
	MaxRequests        *int      `hcl:"max_requests,optional" sensitive:"argv" min:"1" doc:"A worker is restarted after this many requests (--max-requests)."`
	MaxRequestsJitter  *int      `hcl:"max_requests_jitter,optional" sensitive:"argv" min:"0" doc:"Up to this many requests added at random to max_requests, so that workers do not restart together (--max-requests-jitter); needs max_requests."`
	WorkerClass        *string   `hcl:"worker_class,optional" sensitive:"argv" doc:"The worker class (--worker-class), such as \"sync\", \"gthread\" or \"uvicorn.workers.UvicornWorker\"."`
	Environment        cty.Value `hcl:"environment,optional" sensitive:"unit" type:"map of string" doc:"Environment variables of the server, written as Environment= lines. Unit files are readable by every user of the host: put secrets in environment_file."`
	EnvironmentFile    *string   `hcl:"environment_file,optional" sensitive:"path" doc:"An absolute path of a file of VAR=value lines (EnvironmentFile=), \"-/path\" when it may be missing: the place for secrets, written by a file task with sensitive content (created 0600)."`
	ExtraArgs          []string  `hcl:"extra_args,optional" sensitive:"argv" doc:"More arguments for gunicorn's command line, before the app."`
	Restart            *string   `hcl:"restart,optional" sensitive:"unit" enum:"no,always,on-success,on-failure,on-abnormal,on-abort,on-watchdog" default:"always" doc:"The unit's Restart=: when systemd restarts the server after it exits."`
	RestartSec         cty.Value `hcl:"restart_sec,optional" sensitive:"unit" type:"number or duration" doc:"The unit's RestartSec=: seconds (10) or a duration (\"1m30s\") between a crash and the restart; 5 when restart is not \"no\"."`
	StartLimitInterval cty.Value `hcl:"start_limit_interval,optional" sensitive:"unit" type:"number or duration" doc:"StartLimitIntervalSec=: systemd refuses a start when more than start_limit_burst starts happened within it (systemd's default 10s); 0 never refuses."`
	StartLimitBurst    *int      `hcl:"start_limit_burst,optional" sensitive:"unit" min:"1" doc:"StartLimitBurst=: the starts allowed within start_limit_interval (systemd's default 5)."`
	StartLimitAction   *string   `hcl:"start_limit_action,optional" sensitive:"unit" enum:"none,reboot,reboot-force,reboot-immediate,poweroff,poweroff-force,poweroff-immediate,exit,exit-force,soft-reboot,soft-reboot-force,kexec,kexec-force,halt,halt-force,halt-immediate" doc:"StartLimitAction=: what systemd does when the start limit is hit."`
	Enabled            *bool     `hcl:"enabled,optional" default:"true" doc:"Whether the service starts at boot."`
	State              *string   `hcl:"state,optional" enum:"started,stopped" default:"started" doc:"Whether the service runs."`
	WantedBy           cty.Value `hcl:"wanted_by,optional" sensitive:"unit" type:"string or list" default:"multi-user.target" doc:"The targets that want the service ([Install] WantedBy=)."`
	After              cty.Value `hcl:"after,optional" sensitive:"unit" type:"string or list" default:"network.target" doc:"The units the service starts after (After=)."`
	UnitPath           *string   `hcl:"unit_path,optional" sensitive:"path" doc:"Where the unit file goes; /etc/systemd/system/NAME when not set."`
	RestartOnChange    *bool     `hcl:"restart_on_change,optional" default:"true" doc:"Restart the service when its unit file changed and it runs."`
	Settle             *string   `hcl:"settle,optional" default:"2s"`
	DropIns            *string   `hcl:"drop_ins,optional" enum:"refuse,allow" default:"refuse"`
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

// systemd's defaults (DefaultStartLimitIntervalSec, DefaultStartLimitBurst)
// and tend's default RestartSec for gunicorn services (their docs say them
// too).
const (
	systemdStartLimitInterval = 10 * time.Second
	systemdStartLimitBurst    = 5
	defaultGunicornRestartSec = 5 * time.Second
)

// Decode reads and validates the gunicorn service, before any connection.
func (m *GunicornService) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg gunicornConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok {
		return diags
	}
	l := &diagList{body: body, diags: diags}
	name, err := unitName(label)
	if err != nil {
		l.diags = append(l.diags, labelErrAt(body, "Invalid service name", err.Error()))
	}
	g := gunicornUnit{Label: label, Unit: name, Description: strings.TrimSuffix(name, ".service") + " (gunicorn)",
		User: deref(cfg.User), Group: deref(cfg.Group), Type: deref(cfg.Type), EnvironmentFile: deref(cfg.EnvironmentFile),
		Restart: deref(cfg.Restart), StartLimitAction: deref(cfg.StartLimitAction), StartLimitBurst: cfg.StartLimitBurst}
	g.decodeArgs(&cfg, dec, l)
	if cfg.Directory != nil {
		g.Directory, err = cleanAbsPath(*cfg.Directory)
		l.check("directory", "Invalid directory", err)
	}
	for _, a := range []struct {
		name string
		val  *string
	}{{"user", cfg.User}, {"group", cfg.Group}} {
		if a.val != nil {
			l.check(a.name, "Invalid "+a.name, validAccount(*a.val))
		}
	}
	if cfg.Description != nil {
		g.Description = *cfg.Description
		if strings.ContainsAny(g.Description, "\r\n") || strings.TrimSpace(g.Description) == "" {
			l.bad("description", "Invalid description", "The description must be one non-empty line.")
		}
	}
	g.Environment, err = envMap(cfg.Environment)
	l.check("environment", "Invalid environment", err)
	if cfg.EnvironmentFile != nil {
		_, err := cleanAbsPath(strings.TrimPrefix(g.EnvironmentFile, "-"))
		l.check("environment_file", "Invalid environment_file", err)
	}
	for _, a := range []struct {
		name string
		val  cty.Value
		dst  **time.Duration
	}{{"restart_sec", cfg.RestartSec, &g.RestartSec}, {"start_limit_interval", cfg.StartLimitInterval, &g.StartLimitInterval}} {
		if isSet(a.val) {
			d, err := secondsValue(a.val)
			l.check(a.name, "Invalid "+a.name, err)
			*a.dst = &d
		}
	}
	if g.RestartSec == nil && g.Restart != "no" {
		d := defaultGunicornRestartSec
		g.RestartSec = &d
	}
	g.WantedBy, err = unitList(cfg.WantedBy)
	l.check("wanted_by", "Invalid wanted_by", err)
	g.After, err = unitList(cfg.After)
	l.check("after", "Invalid after", err)
	if cfg.Enabled != nil && *cfg.Enabled && len(g.WantedBy) == 0 && !dec.unknown["wanted_by"] {
		l.bad("wanted_by", "Unit cannot be enabled", "enabled = true needs at least one wanted_by target.")
	}

	path := "/etc/systemd/system/" + name
	if cfg.UnitPath != nil {
		path, err = cleanAbsPath(*cfg.UnitPath)
		l.check("unit_path", "Invalid unit_path", err)
	}
	// Any sensitive value in the settings makes the rendered unit
	// sensitive: its content never reaches a diff, a log or --json.
	spec := unitSpec{Name: name, File: unitFile(path, name, nil), State: deref(cfg.State), AllowDropIns: allowDropIns(cfg.DropIns),
		RestartOnChange: cfg.RestartOnChange == nil || *cfg.RestartOnChange, Enabled: ptr(cfg.Enabled == nil || *cfg.Enabled)}
	spec.File.Sensitive = len(dec.marked) > 0
	var sd hcl.Diagnostics
	spec.Settle, sd = decodeSettle(body, cfg.Settle)
	l.diags = append(l.diags, sd...)
	// The warning weighs the restart settings together: not when one of
	// them is unknown (its default would stand in for it).
	if !l.diags.HasErrors() && !dec.anyUnknown("restart", "restart_sec", "start_limit_interval", "start_limit_burst", "start_limit_action") {
		if w := startLimitWarning(body, &g); w != nil {
			l.diags = append(l.diags, w)
		}
	}
	m.g, m.spec = g, spec
	return l.diags
}

// decodeArgs reads the settings that make gunicorn's command line.
func (g *gunicornUnit) decodeArgs(cfg *gunicornConfig, dec decoded, l *diagList) {
	var err error
	if cfg.Gunicorn != nil {
		if g.Gunicorn, err = cleanAbsPath(*cfg.Gunicorn); err != nil {
			l.bad("gunicorn", "Invalid gunicorn path", err.Error()+": give the absolute path of the gunicorn executable, such as \"/srv/app/venv/bin/gunicorn\".")
		}
	}
	if g.App = deref(cfg.App); cfg.App != nil && !appRe.MatchString(g.App) {
		l.bad("app", "Invalid app", fmt.Sprintf("%q is not a WSGI application reference: write \"module:callable\", such as \"rotasystems.wsgi:application\".", g.App))
	}
	var errs []error
	g.Binds, errs = gunicornBinds(cfg.Bind, dec.unknown["bind"])
	l.check("bind", "Invalid bind", errs...)
	g.Workers, g.WorkersAuto, err = gunicornWorkers(cfg.Workers)
	l.check("workers", "Invalid workers", err)
	g.Threads, g.Timeout, g.GracefulTimeout, g.KeepAlive = cfg.Threads, cfg.Timeout, cfg.GracefulTimeout, cfg.KeepAlive
	g.MaxRequests, g.MaxRequestsJitter = cfg.MaxRequests, cfg.MaxRequestsJitter
	if cfg.MaxRequestsJitter != nil && !dec.given("max_requests", cfg.MaxRequests != nil) {
		l.bad("max_requests_jitter", "max_requests_jitter without max_requests", "The jitter only spreads worker restarts set by max_requests; set max_requests too.")
	}
	if g.WorkerClass = deref(cfg.WorkerClass); g.WorkerClass != "" && !workerClassRe.MatchString(g.WorkerClass) {
		l.bad("worker_class", "Invalid worker_class", fmt.Sprintf("%q is not a gunicorn worker class such as \"sync\", \"gthread\" or \"uvicorn.workers.UvicornWorker\".", g.WorkerClass))
	}
	for i, a := range cfg.ExtraArgs {
		if strings.ContainsRune(a, 0) {
			l.bad("extra_args", "Invalid extra_args", fmt.Sprintf("Argument %d holds a NUL byte.", i))
		}
	}
	g.ExtraArgs = cfg.ExtraArgs
}

// gunicornBinds reads the bind attribute, a string or a list of addresses,
// and says what is wrong with each.
func gunicornBinds(v cty.Value, unknown bool) ([]string, []error) {
	binds, err := stringOrList(v)
	if err == nil && len(binds) == 0 && !unknown {
		err = fmt.Errorf("at least one address is required")
	}
	if err != nil && isSet(v) && v.Type() == cty.Number {
		// bind = 8000: a port alone.
		n := v.AsBigFloat().Text('f', -1)
		err = fmt.Errorf("bind = %s is a number; an address is a string: write bind = \"127.0.0.1:%s\" (or \"0.0.0.0:%s\" for every interface)", n, n, n)
	}
	if err != nil {
		return nil, []error{err}
	}
	var errs []error
	for _, b := range binds {
		errs = append(errs, validBind(b))
	}
	return binds, errs
}

// gunicornWorkers reads the workers attribute: a number of worker
// processes, also given as a string (--var workers=3), or "auto".
func gunicornWorkers(w cty.Value) (n int, auto bool, err error) {
	switch {
	case !isSet(w):
		return 0, false, nil
	case !w.IsKnown():
		return 0, false, errors.New("The value is not known before apply.")
	case w.Type() == cty.String && w.AsString() == "auto":
		return 0, true, nil
	case w.Type() == cty.Number || w.Type() == cty.String && numericString(w.AsString()):
		nv, _ := convert.Convert(w, cty.Number)
		bf := nv.AsBigFloat()
		n, acc := bf.Int64()
		if !bf.IsInt() || acc != 0 || n < 1 || n > 1024 {
			return 0, false, fmt.Errorf("workers must be a whole number from 1 to 1024, or \"auto\", not %s.", bf.Text('f', -1))
		}
		return int(n), false, nil
	}
	return 0, false, errors.New("workers must be a number of worker processes or \"auto\" (2 × the host's CPUs + 1).")
}

// unitList reads a string or list of unit names (wanted_by, after).
func unitList(v cty.Value) ([]string, error) {
	units, err := stringOrList(v)
	if err != nil {
		return nil, err
	}
	for _, u := range units {
		if !unitNameRe.MatchString(u) {
			return units, fmt.Errorf("%q is not a unit name.", u)
		}
	}
	return units, nil
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

// WorkerProcesses implements WorkerCounter: the workers setting when it is
// a number. Unset (gunicorn's default depends on WEB_CONCURRENCY), "auto"
// (the host's CPUs) or a workers flag among extra_args: not known.
func (m *GunicornService) WorkerProcesses() (int, bool) {
	if m.g.WorkersAuto || m.g.Workers <= 0 {
		return 0, false
	}
	for _, a := range m.g.ExtraArgs {
		if strings.HasPrefix(a, "-w") || a == "--workers" || strings.HasPrefix(a, "--workers=") {
			return 0, false
		}
	}
	return m.g.Workers, true
}

// RunningUnit implements UnitRunner: a gunicorn server runs unless its
// state is "stopped".
func (m *GunicornService) RunningUnit() string {
	if m.spec.State == "stopped" {
		return ""
	}
	return m.spec.Name
}

var _ SecretFiler = (*GunicornService)(nil)

// SecretFiles implements SecretFiler.
func (m *GunicornService) SecretFiles() []string { return m.spec.File.secretFiles() }
