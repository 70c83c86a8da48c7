package playbooks

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/tend-sh/tend/inventory"
)

// Validate checks the playbook against an inventory (nil means the implicit
// localhost inventory), offline: every host pattern of every play must match
// a host or group, and a play should select at least one host. It warns
// about handlers that no task notifies.
//
// Validate does not repeat what Load already reported (syntax, unknown
// module kinds with suggestions, duplicate task IDs and handler names,
// unknown handlers in notify, undeclared variables and locals). Module
// settings are checked for no particular host by CheckTasks, and per host
// (with unknown host vars) by Instantiate.
func (p *Playbook) Validate(inv *inventory.Inventory) hcl.Diagnostics {
	if inv == nil {
		inv = inventory.Localhost()
	}
	var diags hcl.Diagnostics
	for _, play := range p.Plays {
		ok := true
		for i, pat := range play.HostPatterns {
			if _, err := inv.Select([]string{pat}); err != nil {
				rng := play.Range
				if i < len(play.hostRanges) {
					rng = play.hostRanges[i]
				}
				where := "the inventory"
				if inv.Filename != "" {
					where = inv.Filename
				} else if len(inv.Hosts) == 1 && inv.Hosts[0].Name == "localhost" {
					where = "the implicit inventory (only localhost; give one with -i)"
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "No hosts match",
					Detail:   fmt.Sprintf("Play %q: in %s, %s", play.Name, where, err),
					Subject:  &rng,
					Extra:    unmatchedPlay{play: play.Name},
				})
				ok = false
			}
		}
		if ok && len(play.HostPatterns) > 0 {
			if hosts, err := inv.Select(play.HostPatterns); err == nil && len(hosts) == 0 {
				rng := play.Range
				if len(play.hostRanges) > 0 {
					rng = hcl.RangeBetween(play.hostRanges[0], play.hostRanges[len(play.hostRanges)-1])
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "Play selects no hosts",
					Detail:   fmt.Sprintf("The hosts patterns of play %q exclude every host they include.", play.Name),
					Subject:  &rng,
				})
			}
		}

		notified := map[string]bool{}
		for _, t := range play.Tasks {
			for _, n := range t.Notify {
				notified[n] = true
			}
		}
		for _, name := range mapKeys(play.Handlers) {
			if notified[name] {
				continue
			}
			h := play.Handlers[name]
			rng := h.Range
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Handler never notified",
				Detail:   fmt.Sprintf("No task of play %q notifies handler %q, so it never runs. Add notify = [%q] to the tasks that should trigger it.", play.Name, name, name),
				Subject:  &rng,
			})
		}
	}
	return diags
}
