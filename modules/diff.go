package modules

import "github.com/tend-sh/tend/executor/plan"

// Diff and Change are the plan's typed value (package plan, which imports
// neither SSH nor modules): what Check found different between the desired
// and the actual state of one resource on one host. plan renders a Diff;
// Apply consumes it, and the engine carries out its Effects.
type (
	Diff   = plan.Diff
	Change = plan.Change
)
