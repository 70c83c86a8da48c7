package playbooks

import (
	"testing"

	"github.com/tend-sh/tend/modules"
)

// TestModuleAttributesAreNotMetaArguments: a module attribute named like a
// meta-argument (name, when, …) would never reach the module: the playbook
// takes it as the meta-argument.
func TestModuleAttributesAreNotMetaArguments(t *testing.T) {
	for _, kind := range modules.Kinds() {
		info, _ := modules.Lookup(kind)
		for _, a := range modules.Schema(info) {
			for _, meta := range metaArgs {
				if a.Name == meta {
					t.Errorf("%s declares attribute %q, which is a task meta-argument", kind, a.Name)
				}
			}
		}
	}
}
