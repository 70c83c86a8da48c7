package modules

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "sysctl",
		Summary: "A kernel parameter: its line in a sysctl.d file (kept across boots) and its live value",
		New:     func() Module { return &Sysctl{} },
		Config:  func() any { return &sysctlConfig{} },
		Doc: `Manages one kernel parameter (the label, such as "net.ipv4.ip_forward"; "net/ipv4/ip_forward" is the same parameter) in two places: its line in a sysctl.d file, which systemd-sysctl applies at boot, and its live value in /proc/sys, which tend sets with sysctl -w. Several sysctl tasks may share one file: each edits only the line of its own parameter (a duplicate line of it is removed, since the last one would win) and leaves every other line as it is, byte for byte; a new parameter is appended. A comment is never touched.

Values are compared with their white space normalised: the kernel prints multi-value parameters with tabs ("4096	131072	6291456"), which equals value = "4096 131072 6291456". Write values as the kernel prints them (1, not "yes" or "01"), or the live value never reads back equal. A parameter the host's kernel does not have fails the plan.

The live value is a change beyond files: a failed host's revert sets the old value back. state = "absent" removes the parameter's line from the file and leaves the live value as it is (the kernel has no "unset").`,
		Example: `sysctl "net.ipv4.ip_forward" {
  value = "1"
  file  = "/etc/sysctl.d/90-tend.conf"
}
`,
	})
}

var (
	_ Module = (*Sysctl)(nil)
	_ Undoer = (*Sysctl)(nil)
)

// Sysctl manages one kernel parameter: its line in a sysctl.d file and its
// live value.
type Sysctl struct {
	key string
	// proc is the parameter's path under /proc/sys, such as
	// "net/ipv4/ip_forward".
	proc   string
	value  string
	file   fileSpec
	live   bool
	absent bool
}

type sysctlConfig struct {
	Key      *string `hcl:"key,optional" doc:"The kernel parameter, such as \"net.ipv4.ip_forward\"; the task's label when not set (set it in a for_each task, whose label is one for all its elements)."`
	Value    *string `hcl:"value,optional" doc:"The value, as the kernel prints it: \"1\", \"4096 131072 6291456\" (a number is taken as its text). Required unless state is \"absent\"."`
	File     *string `hcl:"file,optional" sensitive:"path" default:"/etc/sysctl.d/90-tend.conf" doc:"The sysctl.d file that keeps the value across boots (systemd-sysctl reads only *.conf files there)."`
	Live     *bool   `hcl:"live,optional" default:"true" doc:"Also set the running kernel's value (sysctl -w); false only edits the file, for the next boot."`
	State    *string `hcl:"state,optional" enum:"present,absent" default:"present" doc:"\"absent\" removes the parameter's line from the file; the live value stays as it is."`
	Validate *string `hcl:"validate,optional" doc:"A command that checks the new file before it replaces the old one, \"%s\" standing for the new file's path; a non-zero exit leaves the old file and fails the task."`
	Backup   *bool   `hcl:"backup,optional" doc:"Keep the file being replaced beside it, as PATH.YYYY-MM-DD@HH:MM:SS~ (a hard link: the old file as it was)."`
}

var sysctlKeyRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./-]*$`)

// sysctlPath returns the path under /proc/sys of a parameter key, as
// sysctl(8) reads it: when the first separator is a dot, dots separate the
// components and a slash stands for a dot inside one
// ("net.ipv4.conf.eth0/100.rp_filter" is net/ipv4/conf/eth0.100/rp_filter);
// otherwise the key is the path. It returns an error for a key that is not
// a parameter name.
func sysctlPath(key string) (string, error) {
	bad := fmt.Errorf("%q is not a kernel parameter name: write it like \"net.ipv4.ip_forward\" or \"net/ipv4/ip_forward\" (letters, digits, \"_-\", components separated by dots or slashes)", key)
	if len(key) > 512 || !sysctlKeyRe.MatchString(key) {
		return "", bad
	}
	p := key
	if i := strings.IndexAny(key, "./"); i >= 0 && key[i] == '.' {
		p = strings.Map(func(r rune) rune {
			switch r {
			case '.':
				return '/'
			case '/':
				return '.'
			}
			return r
		}, key)
	}
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." || c == ".." {
			return "", bad
		}
	}
	return p, nil
}

// Decode reads and validates the parameter, its value and its file.
func (m *Sysctl) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg sysctlConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok || diags.HasErrors() {
		return diags
	}
	key := label
	if cfg.Key != nil {
		key = *cfg.Key
	}
	if !dec.unknown["key"] {
		p, err := sysctlPath(key)
		if err != nil && cfg.Key != nil {
			diags = append(diags, errAt(body, "key", "Invalid kernel parameter", err.Error()))
		} else if err != nil {
			diags = append(diags, labelErrAt(body, "Invalid kernel parameter", err.Error()))
		}
		m.key, m.proc = key, p
	}
	m.absent = cfg.State != nil && *cfg.State == "absent"
	m.live = cfg.Live != nil && *cfg.Live
	if cfg.File != nil {
		f, err := cleanAbsPath(*cfg.File)
		if err == nil && strings.HasSuffix(path.Dir(f), "sysctl.d") && !strings.HasSuffix(f, ".conf") {
			err = fmt.Errorf("%q is in a sysctl.d directory but does not end in .conf: systemd-sysctl would never read it", f)
		}
		if err != nil {
			diags = append(diags, errAt(body, "file", "Invalid sysctl file", err.Error()))
		}
		m.file.Path = f
	}
	m.file.DefaultMode = defaultFileMode
	if m.absent {
		for _, a := range []struct {
			name string
			set  bool
		}{{"value", cfg.Value != nil}, {"validate", cfg.Validate != nil}, {"backup", cfg.Backup != nil}} {
			if dec.given(a.name, a.set) {
				diags = append(diags, errAt(body, a.name, "Attribute for an absent parameter", fmt.Sprintf("%s has no meaning with state = \"absent\".", a.name)))
			}
		}
		if _, written := dec.types["live"]; written {
			diags = append(diags, errAt(body, "live", "Attribute for an absent parameter", "live has no meaning with state = \"absent\": the live value stays as it is."))
		}
		return diags
	}
	diags = append(diags, m.file.decodeWriteOptions(body, dec, cfg.Validate, cfg.Backup)...)
	if !dec.unknown["state"] {
		diags = append(diags, required(body, dec, "value", cfg.Value != nil)...)
	}
	if cfg.Value != nil {
		v := *cfg.Value
		switch {
		case dec.types["value"] == cty.Bool:
			diags = append(diags, errAt(body, "value", "Invalid value", fmt.Sprintf("value = %s is a bool: write the number the kernel takes, \"1\" or \"0\".", v)))
		case strings.ContainsAny(v, "\n\r\x00"):
			diags = append(diags, errAt(body, "value", "Invalid value", "A kernel parameter's value is one line."))
		case normSysctl(v) == "":
			diags = append(diags, errAt(body, "value", "Invalid value", "The value is empty."))
		}
		m.value = normSysctl(v)
	}
	return diags
}

// normSysctl normalises a value's white space: the kernel separates the
// parts of multi-value parameters with tabs.
func normSysctl(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Probes reads the file and the live value.
func (m *Sysctl) Probes() []executor.Probe {
	return []executor.Probe{
		{Kind: executor.ProbeFile, Path: m.file.Path, Become: true},
		{Kind: executor.ProbeFact, Fact: sysctlFact{m.proc}, Become: true},
	}
}

// Check compares the parameter's line in the file and its live value with
// the gathered state.
func (m *Sysctl) Check(ctx context.Context, t *Target) (*Diff, error) {
	v, ok := t.State.Fact(sysctlFact{m.proc})
	if !ok {
		return nil, fmt.Errorf("%s: the live value was not gathered", m.key)
	}
	live := v.(sysctlLive)
	d := &Diff{}
	if !live.Exists && !m.absent {
		if m.live {
			return nil, fmt.Errorf("no such kernel parameter: %s (/proc/sys/%s does not exist on this host)", m.key, m.proc)
		}
		d.Notes = append(d.Notes, fmt.Sprintf("the running kernel has no %s (/proc/sys/%s); the file sets it at boot if the kernel has it then", m.key, m.proc))
	}
	cur := t.State.File(m.file.Path)
	if cur == nil {
		return nil, fmt.Errorf("%s: the file's state was not gathered", m.file.Path)
	}
	if cur.Exists && cur.Truncated {
		return nil, fmt.Errorf("%s is larger than %d MiB: tend does not edit it line by line", m.file.Path, executor.MaxProbeContent>>20)
	}
	if m.absent && !cur.Exists {
		return d, nil
	}
	want := editSysctlFile(cur.Content, m.key, m.proc, m.value, m.absent)
	if !cur.Exists || string(want) != string(cur.Content) {
		f := m.file
		f.Content = want
		if _, err := f.check(cur, d); err != nil {
			return nil, err
		}
	}
	if m.live && !m.absent {
		if !live.Readable {
			return nil, fmt.Errorf("%s cannot be read (/proc/sys/%s is write-only), so tend cannot compare its live value; set live = false to manage only the file", m.key, m.proc)
		}
		if live.Value != m.value {
			d.Add(Change{Attr: "live", Old: live.Value, New: m.value})
			d.Beyond = true
		}
	}
	return d, nil
}

// Apply writes the file, then sets the live value.
func (m *Sysctl) Apply(ctx context.Context, t *Target, d *Diff) error {
	if c := d.Change("content"); c != nil {
		f := m.file
		f.Content = c.NewContent
		if err := f.apply(ctx, t, t.State.File(m.file.Path), d); err != nil {
			return err
		}
	}
	if c := d.Change("live"); c != nil {
		_, err := runScript(ctx, t, "sysctl -w "+m.key, sysctlWrite(m.proc, c.New), t.Become)
		return err
	}
	return nil
}

// Undo sets the live value back to what Check saw.
func (m *Sysctl) Undo(t *Target) (executor.Command, bool) {
	v, ok := t.State.Fact(sysctlFact{m.proc})
	if !ok || !m.live || m.absent {
		return executor.Command{}, false
	}
	live := v.(sysctlLive)
	if !live.Exists || !live.Readable || live.Value == m.value {
		return executor.Command{}, false
	}
	return executor.Command{Script: sysctlWrite(m.proc, live.Value), Become: t.Become}, true
}

// sysctlWrite returns the script that sets a live value: sysctl -w, or a
// write to /proc/sys where procps is not installed.
func sysctlWrite(proc, value string) string {
	q := executor.ShellQuote(proc + "=" + value)
	return "if command -v sysctl >/dev/null 2>&1; then sysctl -q -w -- " + q +
		"; else printf '%s\\n' " + executor.ShellQuote(value) + " >" + executor.ShellQuote("/proc/sys/"+proc) + "; fi"
}

// editSysctlFile returns content with the line of the parameter at proc
// set to "key = value" (or removed when absent): the first line that sets
// the parameter is kept as it is when its value is already right and
// replaced otherwise, later lines that set it are removed (the last one
// would win), and a parameter not in the file is appended. Every other
// line, comments included, is kept byte for byte.
func editSysctlFile(content []byte, key, proc, value string, absent bool) []byte {
	var out strings.Builder
	found := false
	for _, line := range strings.SplitAfter(string(content), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := sysctlLine(line)
		if !ok {
			out.WriteString(line)
			continue
		}
		if p, err := sysctlPath(k); err != nil || p != proc {
			out.WriteString(line)
			continue
		}
		if absent || found {
			continue
		}
		found = true
		if normSysctl(v) == value && !strings.HasPrefix(strings.TrimSpace(line), "-") {
			out.WriteString(line)
			continue
		}
		out.WriteString(key + " = " + value)
		if strings.HasSuffix(line, "\n") {
			out.WriteString("\n")
		}
	}
	if !found && !absent {
		if s := out.String(); s != "" && !strings.HasSuffix(s, "\n") {
			out.WriteString("\n")
		}
		out.WriteString(key + " = " + value + "\n")
	}
	return []byte(out.String())
}

// sysctlLine parses one line of a sysctl.d file into its key and value;
// false for comments, blank lines and lines without "=".
func sysctlLine(line string) (key, value string, ok bool) {
	s := strings.TrimSpace(line)
	if s == "" || s[0] == '#' || s[0] == ';' {
		return "", "", false
	}
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", false
	}
	return strings.TrimPrefix(strings.TrimSpace(k), "-"), strings.TrimSpace(v), true
}

// sysctlLive is the live state of a kernel parameter.
type sysctlLive struct {
	Exists bool
	// Readable is false for write-only parameters (vm.drop_caches).
	Readable bool
	// Value is the value with its white space normalised.
	Value string
}

// sysctlFact reads a parameter's live value from /proc/sys.
type sysctlFact struct{ proc string }

// Key names the fact and its parameter.
func (f sysctlFact) Key() string { return "sysctl:" + f.proc }

// Script reads /proc/sys/PROC: "value V", "unreadable", "notfile" or
// "missing".
func (f sysctlFact) Script() string {
	q := executor.ShellQuote("/proc/sys/" + f.proc)
	return "if [ -f " + q + " ]; then if v=$(cat -- " + q + " 2>/dev/null); then printf 'value %s\\n' \"$v\"; else echo unreadable; fi; " +
		"elif [ -e " + q + " ]; then echo notfile; else echo missing; fi"
}

// Parse reads what Script printed.
func (f sysctlFact) Parse(out []byte, rc int) (any, error) {
	s := string(out)
	if rc == 0 {
		switch {
		case s == "missing\n":
			return sysctlLive{}, nil
		case s == "unreadable\n":
			return sysctlLive{Exists: true}, nil
		case s == "notfile\n":
			return nil, fmt.Errorf("/proc/sys/%s is a directory, not a kernel parameter", f.proc)
		case strings.HasPrefix(s, "value ") && strings.HasSuffix(s, "\n"):
			return sysctlLive{Exists: true, Readable: true, Value: normSysctl(s[len("value ") : len(s)-1])}, nil
		}
	}
	return nil, fmt.Errorf("reading /proc/sys/%s: unexpected answer %q (exit status %d)", f.proc, factAnswer(s), rc)
}
