package modules

// Diff is what Check found different between the desired and the actual
// state of one resource on one host. plan renders it; Apply consumes it.
// A Diff is a value: it holds everything Apply needs (for example the
// rendered content), so what apply does is exactly what plan showed.
type Diff struct {
	// Changes are the attribute-level differences, in display order.
	Changes []Change
	// Actions are side effects Apply will perform besides the changes,
	// in order, e.g. "daemon-reload", "restart staffrota.service".
	Actions []string
	// Unpreviewable is set for commands whose guards do not settle whether
	// they run: plan shows "will run (cannot be previewed)".
	Unpreviewable bool
	// Notes are informational lines shown with the diff (never changes).
	Notes []string
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
}

// Empty reports whether the diff holds nothing to do.
func (d *Diff) Empty() bool {
	return d == nil || (len(d.Changes) == 0 && len(d.Actions) == 0 && !d.Unpreviewable)
}

// Add appends a change and returns the diff, for chaining.
func (d *Diff) Add(c Change) *Diff {
	d.Changes = append(d.Changes, c)
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

// HasAction reports whether the diff will perform action.
func (d *Diff) HasAction(action string) bool {
	if d == nil {
		return false
	}
	for _, a := range d.Actions {
		if a == action {
			return true
		}
	}
	return false
}
