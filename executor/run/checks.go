package run

import (
	"github.com/tend-sh/tend/executor"
	"github.com/tend-sh/tend/modules"
	"github.com/tend-sh/tend/playbooks"
)

// PlayChecks is what one play checks on a host without changing anything:
// its health checks (the tasks whose module is a modules.Verifier) and the
// systemd units its tasks keep running (modules.UnitRunner). tend check and
// the restart drill read them.
type PlayChecks struct {
	Play string
	// Become is the play's become for the host.
	Become bool
	// Checks are the play's health_check tasks (skipped ones left out), in
	// order.
	Checks []*playbooks.Task
	// Units are the units the play's tasks keep running, in task order,
	// each once.
	Units []string
}

// Checks returns what the host's plays check, in play order. A play that
// refers to host.facts is made with facts; when facts is nil such a play
// is left out (FactPlays counts them: gather the facts first). The error
// is the playbook's, for these facts.
func (r *Run) Checks(host string, facts *executor.Facts) ([]PlayChecks, error) {
	var out []PlayChecks
	for _, hp := range r.work[host] {
		plan := hp.plan
		if plan.NeedsFacts {
			if facts == nil {
				continue
			}
			var err error
			if plan, err = r.withFacts(hp, plan.Host, *facts, nil); err != nil {
				return nil, err
			}
		}
		pc := PlayChecks{Play: hp.play.Name, Become: plan.Become}
		seen := map[string]bool{}
		for _, t := range plan.Tasks {
			if t.Skip || t.Module == nil {
				continue
			}
			if _, ok := t.Module.(modules.Verifier); ok {
				pc.Checks = append(pc.Checks, t)
			}
			if u, ok := t.Module.(modules.UnitRunner); ok {
				if name := u.RunningUnit(); name != "" && !seen[name] {
					seen[name] = true
					pc.Units = append(pc.Units, name)
				}
			}
		}
		out = append(out, pc)
	}
	return out, nil
}
