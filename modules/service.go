package modules

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "service",
		Summary: "An existing systemd unit's run state (started, stopped, restarted, reloaded) and enablement",
		New:     func() Module { return &Service{} },
		Config:  func() any { return &serviceConfig{} },
		Doc: `Manages the run state and enablement of a systemd unit whose file tend does not manage (see systemd_unit for one it does). The label is the unit name; ".service" is appended when it has no unit type suffix. The task needs state, enabled or both.

"restarted" and "reloaded" act on every apply: use them as handlers, notified by the tasks that change the unit's configuration. A daemon-reload is done first whenever systemd reports the unit stale. A unit tend starts, restarts or reloads must then stay up for settle; a failed start reports systemctl status and the journal tail. A masked unit can be neither started nor enabled, a static one (no [Install] section) not enabled.`,
		Example: `service "nginx" {
  state   = "started"
  enabled = true
}
`,
	})
}

var _ Module = (*Service)(nil)

// Service manages the state of a unit whose file tend does not manage (its
// registry entry and the tags of serviceConfig document it).
//
// For "restarted" and "reloaded", Check asks for a restart / reload effect
// on every apply. The engine does not ask for an effect again in the check
// after apply, so that check verifies the rest (enabled, active).
type Service struct {
	name         string
	enabled      *bool
	state        string
	daemonReload bool
	settle       time.Duration
}

type serviceConfig struct {
	State        *string `hcl:"state,optional" enum:"started,stopped,restarted,reloaded" doc:"Whether the unit runs; \"restarted\" and \"reloaded\" restart or reload it on every apply. Left as it is when not set."`
	Enabled      *bool   `hcl:"enabled,optional" doc:"Whether the unit starts at boot; left as it is when not set."`
	DaemonReload *bool   `hcl:"daemon_reload,optional" default:"false" doc:"Reload systemd before restarting or reloading the unit, for drop-ins written by other tasks (done anyway when systemd reports the unit stale)."`
	Settle       *string `hcl:"settle,optional" default:"2s"`
}

// Decode reads and validates the service task.
func (m *Service) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg serviceConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok {
		return diags
	}
	name, err := unitName(label)
	if err != nil {
		diags = append(diags, labelErrAt(body, "Invalid unit name", err.Error()))
	}
	m.name = name
	m.enabled = cfg.Enabled
	m.daemonReload = cfg.DaemonReload != nil && *cfg.DaemonReload
	if cfg.State != nil {
		m.state = *cfg.State
	}
	var sd hcl.Diagnostics
	m.settle, sd = decodeSettle(body, cfg.Settle)
	diags = append(diags, sd...)
	if !dec.given("state", cfg.State != nil) && !dec.given("enabled", cfg.Enabled != nil) && !diags.HasErrors() {
		diags = append(diags, errAt(body, "", "Nothing to manage", "A service task needs state, enabled or both."))
	}
	return diags
}

// Probes reads the unit.
func (m *Service) Probes() []executor.Probe {
	return []executor.Probe{{Kind: executor.ProbeUnit, Unit: m.name, Become: true}}
}

// Check compares the unit with the gathered state.
func (m *Service) Check(ctx context.Context, t *Target) (*Diff, error) {
	unit, err := gatheredUnit(t.State, m.name)
	if err != nil {
		return nil, err
	}
	if unit.UnitFileState == "masked" || unit.LoadState == "masked" {
		if m.state != "" && m.state != "stopped" || m.enabled != nil && *m.enabled {
			return nil, fmt.Errorf("%s is masked: it can be neither started nor enabled; unmask it first (systemctl unmask %s)", m.name, m.name)
		}
	}
	if m.enabled != nil && *m.enabled && unit.UnitFileState == "static" {
		return nil, fmt.Errorf("%s is static (its unit file has no [Install] section), so it cannot be enabled; remove enabled = true or add an [Install] section", m.name)
	}
	d := &Diff{}
	// systemd runs stale configuration until a daemon-reload: do one when
	// it says so, or when asked to act with daemon_reload (a new drop-in
	// directory, for one, does not set NeedDaemonReload).
	acting := m.state == "restarted" || m.state == "reloaded"
	if unit.NeedDaemonReload || (m.daemonReload && acting) {
		d.Effect(executor.EffectDaemonReload, "")
	}
	if unit.LoadState == "not-found" {
		// An earlier task may install it; if not, systemctl says so on apply.
		d.Notes = append(d.Notes, fmt.Sprintf("systemd does not know %s yet", m.name))
	}
	switch m.state {
	case "restarted", "reloaded":
		unitActions(m.name, unit, m.enabled, "", d)
		kind := executor.EffectRestart
		if m.state == "reloaded" {
			kind = executor.EffectReload
		}
		d.Effect(kind, m.name)
	default:
		unitActions(m.name, unit, m.enabled, m.state, d)
	}
	for i := range d.Effects {
		if d.Effects[i].Unit == m.name {
			d.Effects[i].Settle = m.settle
		}
	}
	return d, nil
}

// Apply has nothing to change directly: the engine runs the effects of d.
func (m *Service) Apply(ctx context.Context, t *Target, d *Diff) error { return nil }

// RunningUnit implements UnitRunner: the unit, when the task starts it.
func (m *Service) RunningUnit() string {
	switch m.state {
	case "started", "restarted", "reloaded":
		return m.name
	}
	return ""
}
