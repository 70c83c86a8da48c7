package modules

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "systemd_timer",
		Summary: "A scheduled job: a oneshot service and its timer (OnCalendar=), the timer enabled and started",
		New:     func() Module { return &SystemdTimer{} },
		Config:  func() any { return &systemdTimerConfig{} },
		Doc: `Runs a command on a schedule, the systemd way (a cron job's replacement): it writes NAME.service (Type=oneshot, ExecStart= the command, User=) and NAME.timer (OnCalendar=, Persistent=, RandomizedDelaySec=, AccuracySec=, WantedBy=timers.target) under /etc/systemd/system, 0644 root:root, each checked with systemd-analyze verify before it replaces the old file, and the schedule checked on the host with systemd-analyze calendar at plan time. The label is NAME (a ".timer" suffix is accepted).

A changed file triggers one daemon-reload; the timer is enabled and started (or, with enabled = false, disabled and stopped), and restarted when its own file changed while it runs. Apply never starts the service itself: the timer does, on schedule (systemctl start NAME.service runs it by hand).

command is not run through a shell. A list is the program and its arguments, exactly. A string is split into words at white space, with 'single quotes' (everything literal) and "double quotes" (backslash escapes \" and \\) keeping white space in a word, and a backslash escaping the next character; $, backquotes, |, &, ;, <, >, (, ), * and ? outside single quotes are refused, since no shell would see them: write ["/bin/sh", "-c", "tar czf - /srv | gzip > /backup/srv.tgz"] when you mean a shell. Every word reaches the program as written (tend escapes % and $ for systemd).

state = "absent" stops the timer, removes both unit files and the timer's enablement link, and reloads systemd; a run of the service in progress is left to finish.`,
		Example: `systemd_timer "backup" {
  on_calendar      = "daily"
  command          = "/usr/local/bin/backup --target /srv/backup"
  user             = "root"
  randomized_delay = "5m"
}
`,
	})
}

var _ Module = (*SystemdTimer)(nil)

// SystemdTimer manages a oneshot service, its timer and the timer's
// enablement and run state.
type SystemdTimer struct {
	label   string
	service unitSpec
	timer   unitSpec
	// wants is the timer's enablement link (WantedBy=timers.target).
	wants    string
	calendar []string
	absent   bool
	needs    *preflight
}

type systemdTimerConfig struct {
	OnCalendar      cty.Value `hcl:"on_calendar,optional" type:"string or list" doc:"When to run: a systemd calendar event (systemd.time(7)) such as \"daily\", \"Mon..Fri 03:00\", \"*-*-* 00/4:00:00\", or a list of them. Required unless state is \"absent\"."`
	Command         cty.Value `hcl:"command,optional" type:"string or list" doc:"The program and its arguments: a list, or a string split into words (see above); never run through a shell. Required unless state is \"absent\"."`
	User            *string   `hcl:"user,optional" doc:"The user the command runs as (User=); root when not set."`
	Description     *string   `hcl:"description,optional" doc:"The units' Description=; the name and the command when not set."`
	Persistent      *bool     `hcl:"persistent,optional" default:"true" doc:"Run at boot a run missed while the host was down (Persistent=)."`
	RandomizedDelay cty.Value `hcl:"randomized_delay,optional" type:"string or number" doc:"Delay each run by a random time up to this (RandomizedDelaySec=), such as \"5m\" or 300 seconds: spreads a fleet's runs."`
	Accuracy        cty.Value `hcl:"accuracy,optional" type:"string or number" doc:"How late systemd may run the timer to group wake-ups (AccuracySec=, systemd's default is 1m), such as \"1s\"."`
	Enabled         *bool     `hcl:"enabled,optional" default:"true" doc:"Enable and start the timer; false disables and stops it (the files stay)."`
	State           *string   `hcl:"state,optional" enum:"present,absent" default:"present" doc:"\"absent\" stops the timer and removes both units."`
}

var (
	timerNameRe = regexp.MustCompile(`^[A-Za-z0-9:_@-][A-Za-z0-9:_.@-]*$`)
	calendarRe  = regexp.MustCompile(`^[A-Za-z0-9*,./:~ _+-]+$`)
)

// Decode reads and validates the timer task.
func (m *SystemdTimer) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg systemdTimerConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok || diags.HasErrors() {
		return diags
	}
	bad := func(attr, summary, detail string) { diags = append(diags, errAt(body, attr, summary, detail)) }
	name := strings.TrimSuffix(label, ".timer")
	if !timerNameRe.MatchString(name) || len(name) > 200 || strings.HasSuffix(name, ".service") {
		diags = append(diags, labelErrAt(body, "Invalid timer name", fmt.Sprintf("%q is not a timer name: use letters, digits and \":_.@-\", such as \"backup\" (tend writes backup.service and backup.timer).", label)))
	}
	m.label = name
	m.absent = cfg.State != nil && *cfg.State == "absent"
	svcName, timerName := name+".service", name+".timer"
	m.wants = "/etc/systemd/system/timers.target.wants/" + timerName
	if m.absent {
		for _, a := range []string{"on_calendar", "command", "user", "description", "persistent", "randomized_delay", "accuracy", "enabled"} {
			if _, written := dec.types[a]; written {
				bad(a, "Attribute for an absent timer", fmt.Sprintf("%s has no meaning with state = \"absent\".", a))
			}
		}
		m.service = unitSpec{Name: svcName, File: fileSpec{Path: "/etc/systemd/system/" + svcName}}
		m.timer = unitSpec{Name: timerName, File: fileSpec{Path: "/etc/systemd/system/" + timerName}}
		return diags
	}
	if !dec.unknown["state"] {
		diags = append(diags, required(body, dec, "on_calendar", isSet(cfg.OnCalendar))...)
		diags = append(diags, required(body, dec, "command", isSet(cfg.Command))...)
	}
	cal, err := stringOrList(cfg.OnCalendar)
	if err == nil && isSet(cfg.OnCalendar) && len(cal) == 0 {
		err = fmt.Errorf("give at least one calendar event")
	}
	for _, c := range cal {
		if err == nil && (strings.TrimSpace(c) == "" || !calendarRe.MatchString(c)) {
			err = fmt.Errorf("%q is not a systemd calendar event: write one like \"daily\", \"hourly\", \"Mon..Fri 03:00\" or \"*-*-* 02:30:00\" (see systemd.time(7))", c)
		}
	}
	if err != nil {
		bad("on_calendar", "Invalid on_calendar", err.Error())
	}
	m.calendar = cal

	var argv []string
	if isSet(cfg.Command) {
		if cfg.Command.Type() == cty.String {
			argv, err = splitCommand(cfg.Command.AsString())
		} else {
			argv, err = stringList(cfg.Command)
			if err == nil && len(argv) == 0 {
				err = fmt.Errorf("the list is empty: give the program and its arguments")
			}
		}
		for _, a := range argv {
			if err == nil && strings.ContainsAny(a, "\x00\n\r") {
				err = fmt.Errorf("an argument holds a line break or a NUL byte")
			}
		}
		if err == nil && argv[0] == "" {
			err = fmt.Errorf("the program is empty")
		}
		if err != nil {
			bad("command", "Invalid command", err.Error())
		}
	}
	user := ""
	if cfg.User != nil {
		if err := validAccount(*cfg.User); err != nil {
			bad("user", "Invalid user", err.Error())
		}
		user = *cfg.User
	}
	desc := name + ": " + strings.Join(argv, " ")
	if cfg.Description != nil {
		if strings.ContainsAny(*cfg.Description, "\r\n") || strings.TrimSpace(*cfg.Description) == "" {
			bad("description", "Invalid description", "The description must be one non-empty line.")
		}
		desc = *cfg.Description
	}
	var spans []string
	for _, a := range []struct {
		attr, key string
		v         cty.Value
	}{{"randomized_delay", "RandomizedDelaySec", cfg.RandomizedDelay}, {"accuracy", "AccuracySec", cfg.Accuracy}} {
		if !isSet(a.v) {
			continue
		}
		d, err := secondsValue(a.v)
		if err != nil {
			bad(a.attr, "Invalid "+a.attr, err.Error())
			continue
		}
		spans = append(spans, a.key+"="+systemdTimespan(d))
	}
	if diags.HasErrors() || dec.anyUnknown("on_calendar", "command", "user", "description", "randomized_delay", "accuracy", "persistent") {
		return diags
	}
	header := fmt.Sprintf("# Managed by tend (systemd_timer %q). Local changes will be overwritten.\n", name)
	svc := timerService(header, desc, user, argv)
	tmr := timerUnit(header, desc, cal, cfg.Persistent != nil && *cfg.Persistent, spans)
	enabled := cfg.Enabled == nil || *cfg.Enabled
	state := "started"
	if !enabled {
		state = "stopped"
	}
	m.service = unitSpec{Name: svcName, File: unitFile("/etc/systemd/system/"+svcName, svcName, svc)}
	m.timer = unitSpec{Name: timerName, File: unitFile("/etc/systemd/system/"+timerName, timerName, tmr), Enabled: &enabled, State: state, RestartOnChange: true}
	if enabled {
		m.needs = unitFileNeeds(svc)
	}
	return diags
}

// timerService renders the oneshot service.
func timerService(header, desc, user string, argv []string) []byte {
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("[Unit]\nDescription=" + systemdValue(desc) + "\n\n[Service]\nType=oneshot\n")
	if user != "" {
		b.WriteString("User=" + systemdValue(user) + "\n")
	}
	b.WriteString("ExecStart=" + systemdExecLine(argv) + "\n")
	return []byte(b.String())
}

// timerUnit renders the timer: its calendar events, Persistent=, the other
// time spans given (Key=value), and its [Install] section.
func timerUnit(header, desc string, calendar []string, persistent bool, spans []string) []byte {
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("[Unit]\nDescription=" + systemdValue(desc) + "\n\n[Timer]\n")
	for _, c := range calendar {
		b.WriteString("OnCalendar=" + c + "\n")
	}
	b.WriteString("Persistent=" + strconv.FormatBool(persistent) + "\n")
	for _, s := range spans {
		b.WriteString(s + "\n")
	}
	b.WriteString("\n[Install]\nWantedBy=timers.target\n")
	return []byte(b.String())
}

// splitCommand splits a command line into words like a POSIX shell would
// split a simple command with no expansions: white space separates words;
// 'single quotes' keep everything literal; "double quotes" keep white space
// and take backslash escapes of \ and "; a backslash outside quotes escapes
// the next character. What a shell would expand or interpret outside
// single quotes ($, backquotes, |, &, ;, <, >, (, ), *, ?) is refused: the
// command does not go through a shell.
func splitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	shell := func(c byte) error {
		return fmt.Errorf("%q holds %q, which only a shell would interpret, and the command is not run through a shell: quote it with single quotes to pass it as it is, or write a list such as [\"/bin/sh\", \"-c\", %q]", s, string(c), s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("%q: a single quote is not closed", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				c = s[i]
				if c == '"' {
					closed = true
					break
				}
				if c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
					c = s[i]
				} else if c == '$' || c == '`' {
					return nil, shell(c)
				}
				cur.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("%q: a double quote is not closed", s)
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("%q ends with a backslash", s)
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case strings.IndexByte("$`|&;<>()*?", c) >= 0:
			return nil, shell(c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("the command is empty")
	}
	return words, nil
}

// Probes reads both unit files, both units, the enablement link when the
// timer goes, the calendar check and the preflight of the service.
func (m *SystemdTimer) Probes() []executor.Probe {
	ps := append(m.service.probes(), m.timer.probes()...)
	if m.absent {
		return append(ps, executor.Probe{Kind: executor.ProbeFile, Path: m.wants, Become: true})
	}
	if len(m.calendar) > 0 {
		ps = append(ps, executor.Probe{Kind: executor.ProbeFact, Fact: calendarFact{m.calendar}})
	}
	return append(ps, m.needs.probe()...)
}

// Check compares both unit files and the timer with the gathered state.
func (m *SystemdTimer) Check(ctx context.Context, t *Target) (*Diff, error) {
	if m.absent {
		return m.checkAbsent(t)
	}
	if v, ok := t.State.Fact(calendarFact{m.calendar}); ok && v != "" {
		return nil, fmt.Errorf("%s: on_calendar: %s", m.timer.Name, v)
	}
	d := &Diff{}
	for _, u := range []*unitSpec{&m.service, &m.timer} {
		part, err := u.check(t)
		if err != nil {
			return nil, err
		}
		addUnitDiff(d, part, u)
	}
	return preflightResult(m.service.Name, m.needs, t, d)
}

// checkAbsent declares the removal of both files and of the enablement
// link, the timer's stop and a daemon-reload.
func (m *SystemdTimer) checkAbsent(t *Target) (*Diff, error) {
	timer, err := gatheredUnit(t.State, m.timer.Name)
	if err != nil {
		return nil, err
	}
	d := &Diff{}
	if timer.Active() {
		d.Add(Change{Attr: "state", Old: activeWord(timer), New: "stopped"})
		d.Effect(executor.EffectStop, m.timer.Name)
	}
	removed := false
	for _, p := range []string{m.service.File.Path, m.timer.File.Path, m.wants} {
		cur := t.State.File(p)
		if cur == nil {
			return nil, fmt.Errorf("%s: the file's state was not gathered", p)
		}
		if !cur.Exists {
			continue
		}
		if cur.Type == "directory" {
			return nil, fmt.Errorf("%s is a directory; tend will not remove it", p)
		}
		removed = true
		name := path.Base(p)
		if p == m.wants {
			name = path.Base(path.Dir(p)) + "/" + name
		}
		d.Add(Change{Attr: name + " exists", Old: "present", New: "absent", Path: p})
		if cur.Type == "file" && !cur.Truncated && p != m.wants {
			d.Add(Change{Attr: "content", Path: p, OldContent: cur.Content, Old: "present", New: "absent"})
		}
	}
	if removed {
		d.Effect(executor.EffectDaemonReload, "")
	}
	if svc := t.State.Unit(m.service.Name); svc.Active() {
		d.Notes = append(d.Notes, fmt.Sprintf("%s is running: it is left to finish", m.service.Name))
	}
	return d, nil
}

// addUnitDiff adds part, the diff of unit u, to d: its file's changes name
// the unit file (Path, and an attribute such as "backup.timer mode" but for
// the content, which shows its path), and daemon-reload is declared once.
func addUnitDiff(d, part *Diff, u *unitSpec) {
	base := path.Base(u.File.Path)
	for _, c := range part.Changes {
		switch c.Attr {
		case "exists", "mode", "owner", "group":
			c.Attr, c.Path = base+" "+c.Attr, u.File.Path
		}
		d.Add(c)
	}
	for _, e := range part.Effects {
		if !d.HasEffect(e.Kind, e.Unit) {
			d.Effects = append(d.Effects, e)
		}
	}
	d.Notes = append(d.Notes, part.Notes...)
}

// unitFileDiff returns the changes of d to the file of unit u, as
// fileSpec.apply reads them.
func unitFileDiff(d *Diff, u *unitSpec) *Diff {
	out := &Diff{}
	prefix := path.Base(u.File.Path) + " "
	for _, c := range d.Changes {
		if c.Path != u.File.Path {
			continue
		}
		c.Attr = strings.TrimPrefix(c.Attr, prefix)
		out.Add(c)
	}
	return out
}

// Apply writes the service, then the timer (whose verify may read the
// service), or removes them and the enablement link; the engine runs the
// effects.
func (m *SystemdTimer) Apply(ctx context.Context, t *Target, d *Diff) error {
	if m.absent {
		for _, c := range d.Changes {
			p := c.Path
			if !strings.HasSuffix(c.Attr, " exists") || c.New != "absent" || (p != m.service.File.Path && p != m.timer.File.Path && p != m.wants) {
				continue
			}
			if err := runTrusted(ctx, t, "remove "+p, path.Dir(p), "", keepFirst(p, "rm -f -- "+executor.ShellQuote(p)), ""); err != nil {
				return err
			}
		}
		return nil
	}
	for _, u := range []*unitSpec{&m.service, &m.timer} {
		if err := u.apply(ctx, t, unitFileDiff(d, u)); err != nil {
			return err
		}
	}
	return nil
}

// calendarFact checks calendar events with systemd-analyze calendar. Its
// value is "" when they are valid (or systemd-analyze is missing), else
// what systemd-analyze said.
type calendarFact struct{ events []string }

// Key names the fact and the events.
func (f calendarFact) Key() string { return "calendar:" + strings.Join(f.events, "\x00") }

// Script runs systemd-analyze calendar on the events.
func (f calendarFact) Script() string {
	return `if ! command -v systemd-analyze >/dev/null 2>&1; then echo 'tend: no systemd-analyze'; exit 0; fi; systemd-analyze calendar -- ` + executor.ShellJoin(f.events...) + ` 2>&1 >/dev/null; echo "tend: rc $?"`
}

// Parse reads the error lines and the exit status.
func (f calendarFact) Parse(out []byte, rc int) (any, error) {
	s := string(out)
	if s == "tend: no systemd-analyze\n" || s == "tend: rc 0\n" {
		return "", nil
	}
	msg, ok := strings.CutSuffix(s, "\n")
	if i := strings.LastIndex(msg, "\n"); ok && i >= 0 && strings.HasPrefix(msg[i+1:], "tend: rc ") && msg[i+1:] != "tend: rc 0" && strings.Contains(msg[:i], "calendar") {
		return "systemd-analyze calendar: " + strings.ReplaceAll(msg[:i], "\n", "; "), nil
	}
	return nil, fmt.Errorf("systemd-analyze calendar: unexpected answer %q (exit status %d)", factAnswer(s), rc)
}
