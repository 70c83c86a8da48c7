package plan

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// EffectKind names a side effect on a host's systemd that tend performs
// after a change: the engine runs effects, not the modules, so that they
// can be recorded as pending before the change, batched with the re-check
// in one round trip, and settle-checked.
type EffectKind string

// The effect kinds.
const (
	EffectDaemonReload EffectKind = "daemon-reload"
	EffectEnable       EffectKind = "enable"
	EffectDisable      EffectKind = "disable"
	EffectResetFailed  EffectKind = "reset-failed"
	EffectStart        EffectKind = "start"
	EffectStop         EffectKind = "stop"
	EffectRestart      EffectKind = "restart"
	EffectReload       EffectKind = "reload"
)

// Effect is one systemctl action.
type Effect struct {
	Kind EffectKind `json:"kind"`
	// Unit is the unit acted on; empty for daemon-reload.
	Unit string `json:"unit,omitempty"`
	// Settle is how long the unit must stay up after a start, restart or
	// reload (zero: not checked).
	Settle time.Duration `json:"settle,omitempty"`
}

// String is how plans show the effect: "daemon-reload", "restart
// staffrota.service".
func (e Effect) String() string {
	if e.Unit == "" {
		return string(e.Kind)
	}
	return string(e.Kind) + " " + e.Unit
}

// Settles reports whether the effect (re)starts the unit, so that a settle
// check applies.
func (e Effect) Settles() bool {
	return e.Settle > 0 && (e.Kind == EffectStart || e.Kind == EffectRestart || e.Kind == EffectReload)
}

var effectUnitRe = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+$`)

// Validate checks that the effect can be turned into a command.
func (e Effect) Validate() error {
	switch e.Kind {
	case EffectDaemonReload:
		if e.Unit != "" {
			return fmt.Errorf("daemon-reload takes no unit")
		}
		return nil
	case EffectEnable, EffectDisable, EffectResetFailed, EffectStart, EffectStop, EffectRestart, EffectReload:
	default:
		return fmt.Errorf("unknown effect %q", e.Kind)
	}
	if e.Unit == "" || strings.HasPrefix(e.Unit, "-") || !effectUnitRe.MatchString(e.Unit) {
		return fmt.Errorf("%s: invalid unit name %q", e.Kind, e.Unit)
	}
	return nil
}
