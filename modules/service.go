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
	})
}

var _ Module = (*Service)(nil)

// Service manages the state of a unit whose file tend does not manage.
//
// The label is the unit name (".service" is appended when missing).
// Attributes: state ("started", "stopped", "restarted" or "reloaded"),
// enabled, daemon_reload, settle (how long the unit must stay up after tend
// starts, restarts or reloads it; default 2s, "0s" to skip). "restarted"
// and "reloaded" act on every apply (they are usually notified handlers):
// Check asks for a restart / reload effect. The engine does not ask for an
// effect again in the check after apply, so that check verifies the rest
// (enabled, active).
type Service struct {
	name         string
	enabled      *bool
	state        string
	daemonReload bool
	settle       time.Duration
}

type serviceConfig struct {
	State        *string `hcl:"state,optional"`
	Enabled      *bool   `hcl:"enabled,optional"`
	DaemonReload *bool   `hcl:"daemon_reload,optional"`
	Settle       *string `hcl:"settle,optional"`
}

// Decode reads and validates the service task.
func (m *Service) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg serviceConfig
	dec, diags := decodeBody(body, ctx, &cfg)
	if diags.HasErrors() {
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
		switch *cfg.State {
		case "started", "stopped", "restarted", "reloaded":
			m.state = *cfg.State
		default:
			diags = append(diags, errAt(body, "state", "Invalid state", fmt.Sprintf("state must be \"started\", \"stopped\", \"restarted\" or \"reloaded\", not %q.", *cfg.State)))
		}
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
