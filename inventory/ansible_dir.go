package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// ansibleIgnoredExts are the file name endings Ansible skips in an
// inventory directory (its INVENTORY_IGNORE_EXTS).
var ansibleIgnoredExts = []string{".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry"}

// LoadAnsible reads the Ansible inventory at path as Ansible does: a file
// (INI or YAML, by DetectFormat), or a directory whose files are all
// inventories, read in name order into one (files ending in .md, .txt,
// .cfg, .retry, .bak, ~ ... skipped, as Ansible skips them). Next to the
// file, or in the directory, group_vars/NAME and host_vars/NAME (a YAML or
// JSON file, with .yml, .yaml, .json or no extension, or a directory of
// them) add variables to group or host NAME, taking precedence as Ansible
// gives them: inventory group vars < group_vars/all < group_vars/other
// groups < inventory host vars < host_vars.
func LoadAnsible(path string) (*Inventory, hcl.Diagnostics) {
	inv := &Inventory{Filename: path, Files: map[string]*hcl.File{}}
	r := newAnsibleReader(path)
	fail := func(err error) (*Inventory, hcl.Diagnostics) {
		return inv, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Failed to read inventory",
			Detail: fmt.Sprintf("Cannot read inventory %s: %s.", path, err)}}
	}
	st, err := os.Stat(path)
	if err != nil {
		return fail(err)
	}
	base := filepath.Dir(path)
	sources := []string{path}
	if st.IsDir() {
		base = path
		entries, err := os.ReadDir(path)
		if err != nil {
			return fail(err)
		}
		sources = nil
		for _, e := range entries {
			name := e.Name()
			switch {
			case strings.HasPrefix(name, "."), name == "group_vars", name == "host_vars", ignoredExt(name):
			case e.IsDir():
				r.warnf(hcl.Range{Filename: filepath.Join(path, name)}, "Skipped directory", "tend reads the files of an inventory directory, not its subdirectories: %s is not read.", filepath.Join(path, name))
			default:
				sources = append(sources, filepath.Join(path, name))
			}
		}
		if len(sources) == 0 {
			return fail(fmt.Errorf("the directory holds no inventory file"))
		}
	}
	for _, src := range sources {
		b, err := os.ReadFile(src)
		if err != nil {
			return fail(err)
		}
		switch DetectFormat(src, b) {
		case FormatAnsibleYAML:
			r.readYAML(inv, b, src)
		case FormatAnsibleINI:
			r.readINI(inv, b, src)
		default:
			r.errorf(hcl.Range{Filename: src, Start: hcl.InitialPos, End: hcl.InitialPos}, "HCL in an Ansible inventory directory",
				"%s is a tend HCL inventory; an Ansible inventory directory holds Ansible inventories only. Give it with -i on its own.", src)
		}
	}
	if !r.diags.HasErrors() {
		r.varsDirs(inv, base)
	}
	if !r.diags.HasErrors() {
		r.resolve(inv)
	}
	return inv, r.diags
}

func ignoredExt(name string) bool {
	for _, ext := range ansibleIgnoredExts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// varsDirs reads group_vars/ and host_vars/ under base for the groups and
// hosts read so far.
func (r *ansibleReader) varsDirs(inv *Inventory, base string) {
	for _, kind := range []string{"group_vars", "host_vars"} {
		dir := filepath.Join(base, kind)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // none
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || ignoredExt(name) {
				continue
			}
			target := name
			if !e.IsDir() {
				ext := filepath.Ext(name)
				switch ext {
				case ".yml", ".yaml", ".json":
					target = strings.TrimSuffix(name, ext)
				case "":
				default:
					continue // Ansible reads only these extensions
				}
			}
			var vars map[string]aVar
			if kind == "group_vars" {
				g, ok := r.groups[target]
				if !ok {
					continue // vars of a group this inventory does not have
				}
				if g.fileVars == nil {
					g.fileVars = map[string]aVar{}
				}
				vars = g.fileVars
			} else {
				h, ok := r.hosts[target]
				if !ok {
					continue
				}
				if h.fileVars == nil {
					h.fileVars = map[string]aVar{}
				}
				vars = h.fileVars
			}
			path := filepath.Join(dir, name)
			files := []string{path}
			if e.IsDir() {
				files = nil
				filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
					if err == nil && !d.IsDir() && !ignoredExt(p) && !strings.HasPrefix(d.Name(), ".") {
						switch filepath.Ext(p) {
						case ".yml", ".yaml", ".json", "":
							files = append(files, p)
						}
					}
					return nil
				})
				sort.Strings(files)
			}
			for _, f := range files {
				r.varsFile(inv, f, vars)
			}
		}
	}
}

// varsFile reads one YAML (or JSON) file of variables into vars.
func (r *ansibleReader) varsFile(inv *Inventory, path string, vars map[string]aVar) {
	src, err := os.ReadFile(path)
	if err != nil {
		r.errorf(hcl.Range{Filename: path}, "Failed to read variables", "Cannot read %s: %s.", path, err)
		return
	}
	if strings.HasPrefix(string(src), "$ANSIBLE_VAULT") {
		r.warnf(hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}, "Vaulted file not read",
			"%s is encrypted with ansible-vault; tend does not read it. Give secrets to tend through the environment (become_password_env, env() in an HCL inventory).", path)
		return
	}
	if strings.TrimSpace(string(src)) == "" {
		return
	}
	inv.Files[path] = &hcl.File{Bytes: src}
	r.filename = path
	y := &yamlReader{r: r, lineOff: lineOffsets(src)}
	root, ok := y.document(src, "A variables file is a mapping of names to values.")
	if !ok {
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if val, ok := y.value(v); ok {
			vars[k.Value] = aVar{val: val, rng: y.span(k, v)}
		}
	}
}
