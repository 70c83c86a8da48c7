package modules

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Where sensitive values may not go. decodeBody reports which attributes
// carried a marked (sensitive) value; decodeConfig refuses those that tend
// would have to print or that end up readable by every user of the host,
// before any other check of the attribute (whose message could quote it),
// with the refusal the attribute's sensitive tag names (see refusals).

// refusal explains, for an attribute, why it cannot be sensitive.
type refusal func(attr string) (summary, detail string)

// pathRefusal is for paths on the host.
func pathRefusal(attr string) (string, string) {
	return "Sensitive value in " + attr, fmt.Sprintf(
		"%s is a path on the host. Paths are shown in plans and errors and appear in the host's process list, so %s cannot come from a sensitive value. Keep secrets in a file's content (a file task), never in its name.", attr, attr)
}

// shownRefusal is for attributes plans and messages print, such as a
// file's mode, owner and group: every attribute not declared otherwise.
func shownRefusal(attr string) (string, string) {
	return "Sensitive value in " + attr, fmt.Sprintf(
		"%s is shown in plans (like \"%s: old → new\") and in messages, so it cannot come from a sensitive value.", attr, attr)
}

// argvRefusal is for gunicorn settings that become its command line.
func argvRefusal(attr string) (string, string) {
	return "Sensitive value in " + attr, fmt.Sprintf(
		"%s is written on gunicorn's command line (ExecStart=), which every user of the host can read in the process list and in the world-readable unit file, so it cannot come from a sensitive value. Pass secrets in the environment instead: a file task with sensitive content (created 0600) named by environment_file.", attr)
}

// scriptRefusal is for a command's scripts and their environment.
func scriptRefusal(string) (string, string) {
	return "Sensitive value in a command",
		"Command scripts and their environment are passed on the command line and may be visible in the host's process list, so they cannot hold sensitive values. Write the secret to a root-only file with a file task (sensitive = true) and read it from the script."
}

// unitSecretAdvice is what to do instead of writing a secret into a unit.
const unitSecretAdvice = "Put the secret in a file only root can read — a file task whose content is sensitive is created 0600 — and name it with EnvironmentFile= (environment_file in a gunicorn_service), or pass it with LoadCredential= (the service reads it from $CREDENTIALS_DIRECTORY)."

// unitSecretWarning warns that what lies at rng puts a sensitive value into
// a unit file. tend hides the value in its own output, but unit files are
// world-readable and systemd shows a unit's settings to every local user
// whatever the file's mode.
func unitSecretWarning(rng hcl.Range, what string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  "Sensitive value in a unit file",
		Detail: fmt.Sprintf("%s holds a sensitive value. tend never shows it, but on the host unit files are world-readable (0644) and systemd shows a unit's settings, Environment= included, to every local user (systemctl show), whatever the file's mode. %s",
			what, unitSecretAdvice),
		Subject: &rng,
	}
}

// markedBlockAttr returns the range of attribute name in the first block of
// type blockType in body whose value is marked, or the first such attribute
// when the body is not native syntax or no value is marked.
func markedBlockAttr(body hcl.Body, ctx *hcl.EvalContext, blockType, name string) hcl.Range {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return body.MissingItemRange()
	}
	var first *hclsyntax.Attribute
	for _, blk := range sb.Blocks {
		if blk.Type != blockType {
			continue
		}
		a, ok := blk.Body.Attributes[name]
		if !ok {
			continue
		}
		if first == nil {
			first = a
		}
		if v, diags := a.Expr.Value(ctx); !diags.HasErrors() && v.ContainsMarked() {
			return a.SrcRange
		}
	}
	if first != nil {
		return first.SrcRange
	}
	return body.MissingItemRange()
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
