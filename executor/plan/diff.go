package plan

// Diff is what Check found different between the desired and the actual
// state of one resource on one host. plan renders it; Apply consumes it,
// and the engine carries out its Effects.
// A Diff is a value: it holds everything Apply needs (for example the
// rendered content), so what apply does is exactly what plan showed.
type Diff struct {
	// Changes are the attribute-level differences, in display order.
	Changes []Change
	// Effects are the unit actions that follow the changes, in order, e.g.
	// daemon-reload then restart staffrota.service. Modules declare them;
	// the engine runs them (after Apply), records them as pending before
	// the change, checks that restarted units settle, and re-checks.
	Effects []Effect
	// Run is set for commands: the first line of the script Apply runs.
	Run string
	// Unpreviewable is set for commands whose guards do not settle whether
	// they run: plan shows "will run (cannot be previewed)".
	Unpreviewable bool
	// Beyond is set when the change reaches beyond files and unit actions
	// (a package installed, an account created, a live kernel setting):
	// a revert cannot put it back from what the host kept. The module's
	// Undo does, when it implements modules.Undoer and has one; otherwise
	// the revert says that the change stays done.
	Beyond bool
	// Notes are informational lines shown with the diff (never changes).
	Notes []string
	// Detail identifies, in full, what Apply would do beyond what Changes
	// show (for a command: its whole script, become, directory,
	// environment and timeout). It is never shown: a saved plan's
	// fingerprint covers it, under its key.
	Detail string
}

// Change is one attribute that differs.
type Change struct {
	// Attr names what changes: "content", "mode", "owner", "group",
	// "state", "enabled", "exists", ...
	Attr string
	// Old and New are short display values; "" means absent.
	Old string
	New string
	// Path is the file whose content changes, for Attr "content".
	Path string
	// OldContent and NewContent are set for content changes; renderers show
	// them as a unified diff. OldContent is nil for a new file.
	OldContent []byte
	NewContent []byte
	// Sensitive hides the values and contents from all output.
	Sensitive bool
	// Digest identifies the state the change was computed from (for a
	// file's content, the SHA-256 of the current content, also when it is
	// sensitive or too large to read back). It is never shown: a saved
	// plan's fingerprint covers it, under its key.
	Digest string
}

// Empty reports whether the diff holds nothing to do.
func (d *Diff) Empty() bool {
	return d == nil || (len(d.Changes) == 0 && len(d.Effects) == 0 && d.Run == "" && !d.Unpreviewable)
}

// Add appends a change and returns the diff, for chaining.
func (d *Diff) Add(c Change) *Diff {
	d.Changes = append(d.Changes, c)
	return d
}

// Effect appends an effect.
func (d *Diff) Effect(kind EffectKind, unit string) *Diff {
	d.Effects = append(d.Effects, Effect{Kind: kind, Unit: unit})
	return d
}

// Change returns the change to attr, or nil.
func (d *Diff) Change(attr string) *Change {
	if d == nil {
		return nil
	}
	for i := range d.Changes {
		if d.Changes[i].Attr == attr {
			return &d.Changes[i]
		}
	}
	return nil
}

// HasEffect reports whether the diff will perform the effect.
func (d *Diff) HasEffect(kind EffectKind, unit string) bool {
	if d == nil {
		return false
	}
	for _, e := range d.Effects {
		if e.Kind == kind && e.Unit == unit {
			return true
		}
	}
	return false
}

// Actions lists what follows the changes, as plans show it:
// "daemon-reload", "restart staffrota.service", "run: make install".
func (d *Diff) Actions() []string {
	if d == nil {
		return nil
	}
	var out []string
	for _, e := range d.Effects {
		out = append(out, e.String())
	}
	if d.Run != "" {
		out = append(out, "run: "+d.Run)
	}
	return out
}

// Changed reports whether Apply has direct changes to make (as opposed to
// effects only).
func (d *Diff) Changed() bool {
	return d != nil && (len(d.Changes) > 0 || d.Run != "" || d.Unpreviewable)
}
