package playbooks

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/tend-sh/tend/executor/rollout"
	"github.com/tend-sh/tend/inventory"
	"github.com/tend-sh/tend/modules"
)

// Load reads a playbook from filenames (each a .hcl file, or a directory
// whose .hcl files are read in name order) and resolves its variables, with
// varOverrides (from --var name=value) taking precedence over defaults. A
// string (or untyped) variable takes the override text as is; for number and
// bool variables the text is converted; for other types it is parsed as an
// HCL expression, like ["a", "b"] or { k = 1 }. It is LoadWith with only
// Flags.
//
// Load makes every check that needs neither an inventory nor a host: syntax,
// unknown module kinds and arguments, meta-arguments, references to
// undeclared variables and locals, cycles between locals, duplicate tasks and
// handlers, notify naming unknown handlers, variable types. Validate adds the
// checks against an inventory; Instantiate evaluates for one host.
//
// All problems are collected. The returned Playbook is never nil, so its
// Files can be used to print the diagnostics; when they hold errors the rest
// of it must not be used.
func Load(filenames []string, varOverrides map[string]string) (*Playbook, hcl.Diagnostics) {
	return LoadWith(filenames, Inputs{Flags: varOverrides})
}

// LoadWith is Load with variable values from every source: TEND_VAR_
// environment variables, variable files and --var flags (see Inputs).
func LoadWith(filenames []string, in Inputs) (*Playbook, hcl.Diagnostics) {
	p := &Playbook{
		Files:     map[string]*hcl.File{},
		Variables: map[string]*Variable{},
		funcs:     map[string]map[string]function.Function{},
	}
	paths, diags := expandPaths(filenames)
	if diags.HasErrors() {
		return p, diags
	}
	p.BaseDir = filepath.Dir(paths[0])
	if st, err := os.Stat(filenames[0]); err == nil && st.IsDir() {
		p.BaseDir = filepath.Clean(filenames[0])
	}
	p.baseFuncs = Functions(p.BaseDir)

	parser := hclparse.NewParser()
	var bodies []*hclsyntax.Body
	for _, fn := range paths {
		f, d := parser.ParseHCLFile(fn)
		if f != nil {
			pointAtUnclosedHeredoc(d, f.Bytes)
		}
		diags = append(diags, d...)
		if f != nil {
			p.Files[fn] = f
			if b, ok := f.Body.(*hclsyntax.Body); ok && !d.HasErrors() {
				bodies = append(bodies, b)
			}
		}
		p.funcs[fn] = Functions(filepath.Dir(fn))
	}
	if diags.HasErrors() {
		return p, diags
	}

	l := &loader{p: p, diags: diags}
	var playBlocks []*hcl.Block
	for _, body := range bodies {
		content, d := body.Content(rootSchema)
		l.diags = append(l.diags, d...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable":
				l.variable(b)
			case "locals":
				l.locals(b)
			case "play":
				playBlocks = append(playBlocks, b)
			}
		}
	}
	l.inputs(in)
	l.resolveLocals()
	for _, b := range playBlocks {
		l.play(b)
	}
	if len(p.Plays) == 0 && !l.diags.HasErrors() {
		rng := hcl.Range{Filename: paths[0], Start: hcl.InitialPos, End: hcl.InitialPos}
		l.errorf(rng, "No plays", "The playbook declares no play block.")
	}
	sortDiags(l.diags, append(append([]string{}, in.Files...), paths...))
	return p, l.diags
}

// heredocOpenRe matches a heredoc's opening marker at the end of a line.
var heredocOpenRe = regexp.MustCompile(`<<-?([A-Za-z_][A-Za-z0-9_-]*)[ \t]*$`)

// pointAtUnclosedHeredoc moves HCL's "Unterminated template string" at the
// end of a file, where HCL ran out of file looking for a heredoc's closing
// marker, to the heredoc that is never closed, and names the marker: a line
// past the last one, with "No closing marker was found", does not say
// which heredoc or what ends it.
func pointAtUnclosedHeredoc(diags hcl.Diagnostics, src []byte) {
	for _, d := range diags {
		if d.Summary != "Unterminated template string" || d.Subject == nil ||
			d.Subject.Start.Byte < len(bytes.TrimRight(src, " \t\r\n")) {
			continue
		}
		lines := strings.SplitAfter(string(src), "\n")
		offset := 0
		for i := 0; i < len(lines); i++ {
			line := lines[i]
			m := heredocOpenRe.FindStringSubmatchIndex(strings.TrimRight(line, "\r\n"))
			if m == nil {
				offset += len(line)
				continue
			}
			marker := line[m[2]:m[3]]
			closed := false
			for j := i + 1; j < len(lines); j++ {
				if strings.TrimSpace(lines[j]) == marker {
					for ; i < j; i++ {
						offset += len(lines[i])
					}
					offset += len(lines[j])
					closed = true
					break
				}
			}
			if closed {
				continue
			}
			start := hcl.Pos{Line: i + 1, Column: utf8.RuneCountInString(line[:m[0]]) + 1, Byte: offset + m[0]}
			end := hcl.Pos{Line: i + 1, Column: start.Column + (m[3] - m[0]), Byte: offset + m[3]}
			d.Subject = &hcl.Range{Filename: d.Subject.Filename, Start: start, End: end}
			d.Detail = fmt.Sprintf("The heredoc %s opened here is never closed: it ends with a line that holds only %s, and there is none.", line[m[0]:m[3]], marker)
			break
		}
	}
}

// sortDiags orders diagnostics by place: those without a source first, then
// --var and TEND_VAR_ values, then by file (variable files, then playbook
// files, in load order) and position.
func sortDiags(diags hcl.Diagnostics, paths []string) {
	order := map[string]int{}
	for i, fn := range paths {
		order[fn] = i + 1
	}
	key := func(d *hcl.Diagnostic) (int, int) {
		if d.Subject == nil {
			return -1, 0
		}
		if n, ok := order[d.Subject.Filename]; ok {
			return n, d.Subject.Start.Byte
		}
		return 0, 0 // --var values, in name order already
	}
	sort.SliceStable(diags, func(i, j int) bool {
		fi, bi := key(diags[i])
		fj, bj := key(diags[j])
		if fi != fj {
			return fi < fj
		}
		return bi < bj
	})
}

var rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "variable", LabelNames: []string{"name"}},
	{Type: "locals"},
	{Type: "play", LabelNames: []string{"name"}},
}}

var variableSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "default"}, {Name: "type"}, {Name: "description"}, {Name: "sensitive"},
}}

// metaArgs are the task arguments handled here rather than by modules.
var metaArgs = []string{"for_each", "ignore_errors", "name", "notify", "when"}

var taskMetaSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "for_each"}, {Name: "ignore_errors"}, {Name: "name"}, {Name: "notify"}, {Name: "when"},
}}

// expandPaths turns the arguments into playbook files.
func expandPaths(filenames []string) ([]string, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var out []string
	for _, fn := range filenames {
		st, err := os.Stat(fn)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Failed to read playbook",
				Detail: fmt.Sprintf("Cannot read %s: %s.", fn, err)})
			continue
		}
		if !st.IsDir() {
			out = append(out, fn)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(fn, "*.hcl"))
		if err != nil || len(matches) == 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty playbook directory",
				Detail: fmt.Sprintf("The directory %s holds no .hcl files.", fn)})
			continue
		}
		sort.Strings(matches)
		out = append(out, matches...)
	}
	if len(out) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No playbook",
			Detail: "Give at least one playbook file or directory."})
	}
	return out, diags
}

type loader struct {
	p     *Playbook
	diags hcl.Diagnostics
	// localNames holds every declared local.
	localNames map[string]bool
	localAttrs []*hcl.Attribute
}

func (l *loader) errorf(rng hcl.Range, summary, format string, args ...any) {
	r := rng
	l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
		Detail: fmt.Sprintf(format, args...), Subject: &r})
}

// constCtx evaluates constants: functions, no variables.
func (l *loader) constCtx(filename string) *hcl.EvalContext {
	return &hcl.EvalContext{Functions: l.p.funcs[filename]}
}

func (l *loader) variable(b *hcl.Block) {
	name := b.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		l.errorf(b.LabelRanges[0], "Invalid variable name",
			"%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter.", name)
		return
	}
	if first, dup := l.p.Variables[name]; dup {
		l.errorf(b.DefRange, "Duplicate variable", "Variable %q is already declared at %s.", name, first.Range)
		return
	}
	v := &Variable{Name: name, Type: cty.DynamicPseudoType, Range: b.DefRange}
	l.p.Variables[name] = v
	content, diags := b.Body.Content(variableSchema)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		// A misspelt argument (defualt = ...): the block is reported as
		// invalid, not also as a variable without a value.
		v.Value = cty.DynamicVal
	}
	ctx := l.constCtx(b.DefRange.Filename)

	var defaults *typeexpr.Defaults
	if a, ok := content.Attributes["type"]; ok {
		ty, defs, d := typeexpr.TypeConstraintWithDefaults(a.Expr)
		l.diags = append(l.diags, d...)
		if !d.HasErrors() {
			v.Type, defaults = ty, defs
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		if s, ok := l.constString(a, ctx); ok {
			v.Description = s
		}
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		val, d := a.Expr.Value(ctx)
		l.diags = append(l.diags, d...)
		if !d.HasErrors() {
			if bv, err := convert.Convert(val, cty.Bool); err != nil || bv.IsNull() {
				l.errorf(a.Expr.Range(), "Incorrect attribute value type", "sensitive must be true or false.")
			} else {
				v.Sensitive = bv.True()
			}
		}
	}
	if a, ok := content.Attributes["default"]; ok {
		val, d := a.Expr.Value(ctx)
		l.diags = append(l.diags, d...)
		// A default that is reported as invalid is a default all the
		// same: unknown, so that it is not reported as missing too.
		v.Value = cty.DynamicVal
		if !d.HasErrors() {
			if cv, err := convertVar(val, v.Type, defaults); err != nil {
				l.errorf(a.Expr.Range(), "Invalid default value for variable",
					"The default of variable %q does not match its type: %s.", name, convertMessage(err, v.Sensitive))
			} else {
				v.Default = cv
				v.Value = cv
			}
		}
	}
	v.defaults = defaults
}

// convertVar applies type defaults and converts val to ty.
func convertVar(val cty.Value, ty cty.Type, defaults *typeexpr.Defaults) (cty.Value, error) {
	if defaults != nil {
		val = defaults.Apply(val)
	}
	return convert.Convert(val, ty)
}

// convertMessage describes a conversion error without a sensitive value.
func convertMessage(err error, sensitive bool) string {
	if sensitive {
		return "the (sensitive) value has the wrong type"
	}
	return err.Error()
}

func (l *loader) constString(a *hcl.Attribute, ctx *hcl.EvalContext) (string, bool) {
	val, d := a.Expr.Value(ctx)
	l.diags = append(l.diags, d...)
	if d.HasErrors() {
		return "", false
	}
	sv, err := convert.Convert(val, cty.String)
	if err != nil || sv.IsNull() {
		l.errorf(a.Expr.Range(), "Incorrect attribute value type", "%s must be a string.", a.Name)
		return "", false
	}
	return sv.AsString(), true
}

func valueQuote(text string, sensitive bool) string {
	if sensitive {
		return "the given (sensitive) value is not one"
	}
	return fmt.Sprintf("%q is not one", text)
}

func (l *loader) locals(b *hcl.Block) {
	attrs, diags := b.Body.JustAttributes()
	l.diags = append(l.diags, diags...)
	if l.localNames == nil {
		l.localNames = map[string]bool{}
	}
	for _, a := range inventory.SortedAttrs(attrs) {
		if l.localNames[a.Name] {
			var first hcl.Range
			for _, o := range l.localAttrs {
				if o.Name == a.Name {
					first = o.NameRange
				}
			}
			l.errorf(a.NameRange, "Duplicate local value", "Local value %q is already defined at %s.", a.Name, first)
			continue
		}
		l.localNames[a.Name] = true
		l.localAttrs = append(l.localAttrs, a)
	}
}

// resolveLocals checks the locals' references and orders them so that each
// comes after the locals it uses.
func (l *loader) resolveLocals() {
	byName := map[string]*local{}
	var all []*local
	for _, a := range l.localAttrs {
		lc := &local{name: a.Name, attr: a, refs: a.Expr.Variables()}
		byName[a.Name] = lc
		all = append(all, lc)
		l.diags = append(l.diags, l.p.checkRefs(lc.refs, scopeLocal, l.localNames)...)
	}
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var visit func(lc *local, path []string) bool
	visit = func(lc *local, path []string) bool {
		switch state[lc.name] {
		case done:
			return true
		case visiting:
			i := 0
			for i < len(path) && path[i] != lc.name {
				i++
			}
			cycle := append(append([]string{}, path[i:]...), lc.name)
			for j := range cycle {
				cycle[j] = "local." + cycle[j]
			}
			l.errorf(lc.attr.Expr.Range(), "Cycle in local values",
				"Local values refer to each other in a cycle: %s.", strings.Join(cycle, " → "))
			return false
		}
		state[lc.name] = visiting
		for _, tr := range lc.refs {
			if tr.RootName() != "local" {
				continue
			}
			name, ok := attrName(tr, 1)
			dep := byName[name]
			if !ok || dep == nil {
				continue
			}
			if !visit(dep, append(path, lc.name)) {
				return false
			}
		}
		state[lc.name] = done
		l.p.locals = append(l.p.locals, lc)
		return true
	}
	for _, lc := range all {
		if !visit(lc, nil) {
			return
		}
	}
}

// playCtx evaluates a play's own arguments: variables and functions only.
func (l *loader) playCtx(filename string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": l.p.vars},
		Functions: l.p.funcs[filename],
	}
}

func (l *loader) play(b *hcl.Block) {
	name := b.Labels[0]
	for _, other := range l.p.Plays {
		if other.Name == name {
			l.errorf(b.DefRange, "Duplicate play", "A play named %q is already declared at %s.", name, other.Range)
			return
		}
	}
	play := &Play{Name: name, Range: b.DefRange, Handlers: map[string]*TaskSpec{}}
	l.p.Plays = append(l.p.Plays, play)
	body := b.Body.(*hclsyntax.Body)
	ctx := l.playCtx(b.DefRange.Filename)

	hostsSeen := false
	for _, a := range sortedSyntaxAttrs(body.Attributes) {
		switch a.Name {
		case "hosts":
			hostsSeen = true
			l.hosts(play, a, ctx)
		case "become":
			v, ok := l.playValue(a, ctx)
			if !ok {
				continue
			}
			bv, err := convert.Convert(v, cty.Bool)
			if err != nil || bv.IsNull() || !bv.IsKnown() {
				l.errorf(a.Expr.Range(), "Incorrect attribute value type", "become must be true or false.")
				continue
			}
			become := bv.True()
			play.Become = &become
		default:
			hint := suggest(a.Name, []string{"hosts", "become"})
			// A misspelt hosts (host = [...]) is that one mistake, not
			// also missing hosts.
			hostsSeen = hostsSeen || strings.Contains(hint, `"hosts"`)
			l.errorf(a.NameRange, "Unsupported argument",
				"An argument named %q is not expected in a play.%s A play takes hosts and become (and rollout and restart_drill blocks); module settings go inside a task block.",
				a.Name, hint)
		}
	}
	if !hostsSeen {
		l.errorf(b.DefRange, "Missing required argument",
			"Play %q needs hosts, the host or group patterns it applies to, like hosts = [\"web\"].", name)
	}

	ids := map[string]*TaskSpec{}
	// declared holds every handler name, also of handlers that are invalid
	// (reported as such): notifying one is not a mistake of its own.
	declared := map[string]bool{}
	for _, blk := range body.Blocks {
		if blk.Type == "rollout" {
			l.rollout(play, blk, ctx)
			continue
		}
		if blk.Type == "restart_drill" {
			l.drill(play, blk, ctx)
			continue
		}
		if blk.Type == "handler" {
			if name := l.handler(play, blk); name != "" {
				declared[name] = true
			}
			continue
		}
		t := l.task(blk, false)
		if t == nil {
			continue
		}
		if first, dup := ids[t.ID]; dup {
			l.errorf(t.Range, "Duplicate task",
				"The play already has a task %s, at %s. Give each task of a kind a different label.", t.ID, first.Range)
			continue
		}
		ids[t.ID] = t
		play.Tasks = append(play.Tasks, t)
	}

	l.checkDrills(play)

	// Every notify must name a handler of this play.
	handlerNames := mapKeys(play.Handlers)
	for _, t := range play.Tasks {
		for i, n := range t.Notify {
			if _, ok := play.Handlers[n]; ok || declared[n] {
				continue
			}
			hint := suggest(n, handlerNames)
			if len(handlerNames) == 0 {
				hint += " The play has no handlers."
			} else {
				hint += " Its handlers are: " + strings.Join(handlerNames, ", ") + "."
			}
			l.errorf(t.notifyRngs[i], "Unknown handler",
				"Task %s notifies %q, which is not a handler of play %q.%s", t.ID, n, play.Name, hint)
		}
	}
}

// playValue evaluates an argument of a play (or of its rollout block),
// which may use variables and functions only; false when it cannot (the
// diagnostics are collected).
func (l *loader) playValue(a *hclsyntax.Attribute, ctx *hcl.EvalContext) (cty.Value, bool) {
	if d := l.p.checkRefs(a.Expr.Variables(), scopePlay, nil); d.HasErrors() {
		l.diags = append(l.diags, d...)
		return cty.NilVal, false
	}
	v, d := a.Expr.Value(ctx)
	l.diags = append(l.diags, d...)
	if d.HasErrors() {
		return cty.NilVal, false
	}
	v, _ = v.Unmark()
	return v, true
}

// rollout reads a play's rollout block.
func (l *loader) rollout(play *Play, b *hclsyntax.Block, ctx *hcl.EvalContext) {
	if play.Rollout != nil {
		l.errorf(b.DefRange(), "Duplicate rollout block", "Play %q already has a rollout block, at %s.", play.Name, play.Rollout.Range)
		return
	}
	if len(b.Labels) > 0 {
		l.errorf(b.LabelRanges[0], "Unexpected label", "A rollout block takes no label: write rollout { canary = 1 }.")
	}
	r := &Rollout{Range: b.DefRange()}
	play.Rollout = r
	for _, blk := range b.Body.Blocks {
		l.errorf(blk.DefRange(), "Unsupported block type", "A rollout block holds only canary, batch, max_failures and revert.")
	}
	for _, a := range sortedSyntaxAttrs(b.Body.Attributes) {
		v, ok := l.playValue(a, ctx)
		if !ok {
			continue
		}
		if v.IsNull() || !v.IsKnown() {
			l.errorf(a.Expr.Range(), "Invalid rollout setting", "%s must have a value.", a.Name)
			continue
		}
		switch a.Name {
		case "canary":
			n, ok := wholeNumber(v)
			if !ok || n < 0 {
				l.errorf(a.Expr.Range(), "Invalid rollout setting", "canary is the number of hosts changed first, alone: a whole number ≥ 0, like canary = 1.")
				continue
			}
			r.Canary = &n
		case "batch", "max_failures":
			var text string
			if n, ok := wholeNumber(v); ok {
				text = strconv.Itoa(n)
			} else if v.Type() == cty.String {
				text = v.AsString()
			} else {
				l.errorf(a.Expr.Range(), "Invalid rollout setting", "%s is a number of hosts or a share of them, like 2 or \"25%%\".", a.Name)
				continue
			}
			size, err := rollout.ParseSize(text)
			if err == nil && a.Name == "batch" && size.Hosts(1) == 0 && size.Percent == 0 {
				err = fmt.Errorf("a batch of 0 hosts would never finish")
			}
			if err != nil {
				l.errorf(a.Expr.Range(), "Invalid rollout setting", "%s: %s.", a.Name, err)
				continue
			}
			if a.Name == "batch" {
				r.Batch = &size
			} else {
				r.MaxFailures = &size
			}
		case "revert":
			bv, err := convert.Convert(v, cty.Bool)
			if err != nil {
				l.errorf(a.Expr.Range(), "Invalid rollout setting", "revert must be true or false.")
				continue
			}
			b := bv.True()
			r.Revert = &b
		default:
			l.errorf(a.NameRange, "Unsupported argument", "An argument named %q is not expected in a rollout block.%s It takes canary, batch, max_failures and revert.",
				a.Name, suggest(a.Name, []string{"canary", "batch", "max_failures", "revert"}))
		}
	}
}

// wholeNumber returns v as an int when it is a whole number.
func wholeNumber(v cty.Value) (int, bool) {
	if v.Type() != cty.Number {
		return 0, false
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, false
	}
	i, acc := bf.Int64()
	if acc != 0 || i > 1<<31 || i < -(1<<31) {
		return 0, false
	}
	return int(i), true
}

// hosts reads a play's hosts argument.
func (l *loader) hosts(play *Play, a *hclsyntax.Attribute, ctx *hcl.EvalContext) {
	if d := l.p.checkRefs(a.Expr.Variables(), scopePlay, nil); d.HasErrors() {
		l.diags = append(l.diags, d...)
		return
	}
	exprs, d := hcl.ExprList(a.Expr)
	if d.HasErrors() {
		// A single string, or a computed list.
		exprs = []hcl.Expression{a.Expr}
	}
	for _, e := range exprs {
		v, d := e.Value(ctx)
		l.diags = append(l.diags, d...)
		if d.HasErrors() {
			continue
		}
		v, _ = v.UnmarkDeep()
		if v.IsNull() || !v.IsKnown() {
			l.errorf(e.Range(), "Invalid hosts", "hosts must be host or group patterns (strings).")
			continue
		}
		var list []cty.Value
		switch ty := v.Type(); {
		case ty == cty.String:
			list = []cty.Value{v}
		case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
			list = v.AsValueSlice()
		default:
			l.errorf(e.Range(), "Invalid hosts", "hosts must be host or group patterns (strings), not %s.", ty.FriendlyName())
			continue
		}
		for _, ev := range list {
			sv, err := convert.Convert(ev, cty.String)
			if err != nil || sv.IsNull() {
				l.errorf(e.Range(), "Invalid hosts", "hosts must be host or group patterns (strings).")
				continue
			}
			play.HostPatterns = append(play.HostPatterns, sv.AsString())
			play.hostRanges = append(play.hostRanges, e.Range())
		}
	}
	if len(play.HostPatterns) == 0 && !l.diags.HasErrors() {
		l.errorf(a.Expr.Range(), "Invalid hosts", "hosts must name at least one host or group pattern.")
	}
}

// task reads a module block: a task, or the module of a handler.
func (l *loader) task(blk *hclsyntax.Block, inHandler bool) *TaskSpec {
	kinds := modules.Kinds()
	if _, ok := modules.Lookup(blk.Type); !ok {
		candidates := kinds
		if !inHandler {
			candidates = append(append([]string{}, kinds...), "handler", "restart_drill", "rollout")
		}
		detail := fmt.Sprintf("There is no module kind %q.%s", blk.Type, suggest(blk.Type, candidates))
		if len(kinds) == 0 {
			detail += " No module kinds are registered."
		} else {
			detail += " Module kinds: " + strings.Join(kinds, ", ") + "."
		}
		l.errorf(blk.TypeRange, "Unsupported block type", "%s", detail)
		return nil
	}
	if len(blk.Labels) != 1 {
		rng := blk.TypeRange
		if len(blk.Labels) > 1 {
			rng = blk.LabelRanges[1]
		}
		l.errorf(rng, "Invalid task label",
			"A %s task takes exactly one label, its name or path: %s \"NAME\" { ... }.", blk.Type, blk.Type)
		return nil
	}
	t := &TaskSpec{
		Kind:  blk.Type,
		Label: blk.Labels[0],
		ID:    blk.Type + "." + blk.Labels[0],
		Range: blk.DefRange(),
		file:  blk.DefRange().Filename,
		block: blk,
	}
	content, remain, d := blk.Body.PartialContent(taskMetaSchema)
	l.diags = append(l.diags, d...)
	t.body = remain
	if inHandler {
		for _, a := range inventory.SortedAttrs(content.Attributes) {
			l.errorf(a.NameRange, "Unsupported argument",
				"A handler's module block cannot use the meta-argument %s (handlers run once, when notified; the handler's label is its name).", a.Name)
		}
		content = &hcl.BodyContent{}
	}
	if a, ok := content.Attributes["for_each"]; ok {
		t.ForEach, t.forEach = true, a.Expr
		t.forEachRefs = a.Expr.Variables()
		l.diags = append(l.diags, l.p.checkRefs(t.forEachRefs, scopeForEach, l.localNames)...)
	}
	sc := scopeTask
	if t.ForEach {
		sc = scopeEach
	}
	if a, ok := content.Attributes["notify"]; ok {
		l.notify(t, a)
	}
	if a, ok := content.Attributes["ignore_errors"]; ok {
		v, d := a.Expr.Value(nil)
		if d.HasErrors() || v.Type() != cty.Bool || v.IsNull() {
			l.errorf(a.Expr.Range(), "Invalid ignore_errors", "ignore_errors must be the constant true or false.")
		} else {
			t.IgnoreErrors = v.True()
		}
	}
	if a, ok := content.Attributes["when"]; ok {
		t.when = a.Expr
		t.whenRefs = a.Expr.Variables()
		l.diags = append(l.diags, l.p.checkRefs(t.whenRefs, sc, l.localNames)...)
	}
	if a, ok := content.Attributes["name"]; ok {
		t.name = a.Expr
		t.nameRefs = a.Expr.Variables()
		l.diags = append(l.diags, l.p.checkRefs(t.nameRefs, sc, l.localNames)...)
		if len(t.nameRefs) == 0 {
			if s, ok := l.constString(a, l.constCtx(t.file)); ok {
				t.Name = s
			}
		}
	}
	// References of the module body proper (meta-arguments excluded).
	info, _ := modules.Lookup(blk.Type)
	for _, tr := range bodyTraversals(blk.Body) {
		if isMetaRef(blk.Body, tr) {
			continue
		}
		if tr.RootName() == "result" && inAttrs(blk.Body, tr, info.ResultAttrs) {
			continue // the module checks it
		}
		t.bodyRefs = append(t.bodyRefs, tr)
	}
	l.diags = append(l.diags, l.p.checkRefs(t.bodyRefs, sc, l.localNames)...)
	return t
}

// isMetaRef reports whether tr sits in one of body's meta-arguments.
func isMetaRef(body *hclsyntax.Body, tr hcl.Traversal) bool {
	return inAttrs(body, tr, metaArgs)
}

// inAttrs reports whether tr sits in one of body's attributes names.
func inAttrs(body *hclsyntax.Body, tr hcl.Traversal, names []string) bool {
	r := tr.SourceRange()
	for _, name := range names {
		if a, ok := body.Attributes[name]; ok {
			ar := a.SrcRange
			if r.Filename == ar.Filename && r.Start.Byte >= ar.Start.Byte && r.End.Byte <= ar.End.Byte {
				return true
			}
		}
	}
	return false
}

// notify reads the notify meta-argument: constant handler names.
func (l *loader) notify(t *TaskSpec, a *hcl.Attribute) {
	exprs, d := hcl.ExprList(a.Expr)
	if d.HasErrors() {
		exprs = []hcl.Expression{a.Expr}
	}
	for _, e := range exprs {
		v, d := e.Value(nil)
		bad := d.HasErrors()
		var names []string
		if !bad {
			switch ty := v.Type(); {
			case v.IsNull() || !v.IsKnown():
				bad = true
			case ty == cty.String:
				names = []string{v.AsString()}
			case ty.IsTupleType() || ty.IsListType() || ty.IsSetType():
				for _, nv := range v.AsValueSlice() {
					sv, err := convert.Convert(nv, cty.String)
					if err != nil || sv.IsNull() {
						bad = true
						break
					}
					names = append(names, sv.AsString())
				}
			default:
				bad = true
			}
		}
		if bad {
			l.errorf(e.Range(), "Invalid notify",
				"notify must list handler names as constant strings, like notify = [\"restart-app\"].")
			continue
		}
		for _, n := range names {
			t.Notify = append(t.Notify, n)
			t.notifyRngs = append(t.notifyRngs, e.Range())
		}
	}
}

// handler reads a handler block into play.Handlers when it is valid, and
// returns the name it declares ("" when it has no proper label).
func (l *loader) handler(play *Play, blk *hclsyntax.Block) string {
	if len(blk.Labels) != 1 {
		l.errorf(blk.TypeRange, "Invalid handler label", "A handler takes exactly one label, its name: handler \"restart-app\" { ... }.")
		return ""
	}
	name := blk.Labels[0]
	if first, dup := play.Handlers[name]; dup {
		l.errorf(blk.DefRange(), "Duplicate handler", "Play %q already has a handler %q, at %s.", play.Name, name, first.Range)
		return name
	}
	for _, a := range sortedSyntaxAttrs(blk.Body.Attributes) {
		l.errorf(a.NameRange, "Unsupported argument",
			"A handler holds exactly one module block; put %s inside it.", a.Name)
	}
	if len(blk.Body.Blocks) != 1 {
		rng := blk.DefRange()
		if len(blk.Body.Blocks) > 1 {
			rng = blk.Body.Blocks[1].DefRange()
		}
		l.errorf(rng, "Invalid handler",
			"Handler %q must hold exactly one module block, like service \"staffrota\" { state = \"restarted\" }; it holds %d.",
			name, len(blk.Body.Blocks))
		return name
	}
	inner := blk.Body.Blocks[0]
	t := l.task(inner, true)
	if t == nil {
		return name
	}
	t.Handler = name
	t.Range = blk.DefRange()
	play.Handlers[name] = t
	return name
}

// drill reads a play's restart_drill block.
func (l *loader) drill(play *Play, b *hclsyntax.Block, ctx *hcl.EvalContext) {
	if len(b.Labels) > 0 {
		l.errorf(b.LabelRanges[0], "Unexpected label", `A restart_drill block takes no label: write restart_drill { unit = "app.service" }.`)
	}
	d := &Drill{Workers: -1, Margin: DefaultDrillMargin, Range: b.DefRange()}
	for _, blk := range b.Body.Blocks {
		l.errorf(blk.DefRange(), "Unsupported block type", "A restart_drill block holds only unit, workers, margin and allow_without_health_check.")
	}
	names := []string{"unit", "workers", "margin", "allow_without_health_check"}
	unitSeen := false
	for _, a := range sortedSyntaxAttrs(b.Body.Attributes) {
		if !slices.Contains(names, a.Name) {
			l.errorf(a.NameRange, "Unsupported argument", "An argument named %q is not expected in a restart_drill block.%s It takes unit, workers, margin and allow_without_health_check.",
				a.Name, suggest(a.Name, names))
			continue
		}
		if a.Name == "unit" {
			unitSeen = true
		}
		v, ok := l.playValue(a, ctx)
		if !ok {
			continue
		}
		if v.IsNull() || !v.IsKnown() {
			l.errorf(a.Expr.Range(), "Invalid restart_drill setting", "%s must have a value.", a.Name)
			continue
		}
		switch a.Name {
		case "unit":
			if v.Type() != cty.String || !drillUnitRe.MatchString(v.AsString()) {
				l.errorf(a.Expr.Range(), "Invalid restart_drill setting", `unit is a systemd service with its suffix, like unit = "staffrota.service".`)
				continue
			}
			d.Unit = v.AsString()
		case "workers":
			n, ok := wholeNumber(v)
			if !ok || n < 0 {
				l.errorf(a.Expr.Range(), "Invalid restart_drill setting", "workers is the number of processes the unit runs besides its main process (gunicorn's workers): a whole number ≥ 0.")
				continue
			}
			d.Workers = n
		case "margin":
			dur, err := time.ParseDuration(stringOf(v))
			if err != nil || dur <= 0 || dur > 10*time.Minute {
				l.errorf(a.Expr.Range(), "Invalid restart_drill setting", `margin is how long past the unit's RestartSec tend waits for it, a duration from 1s to 10m like margin = "10s".`)
				continue
			}
			d.Margin = dur
		case "allow_without_health_check":
			bv, err := convert.Convert(v, cty.Bool)
			if err != nil {
				l.errorf(a.Expr.Range(), "Invalid restart_drill setting", "allow_without_health_check must be true or false.")
				continue
			}
			d.AllowWithoutHealthCheck = bv.True()
		}
	}
	if !unitSeen {
		l.errorf(b.DefRange(), "Missing required argument", `A restart_drill block needs unit, the systemd service to drill, like unit = "staffrota.service".`)
		return
	}
	if d.Unit == "" {
		return
	}
	for _, other := range play.Drills {
		if other.Unit == d.Unit {
			l.errorf(d.Range, "Duplicate restart_drill", "Play %q already drills %s, at %s.", play.Name, d.Unit, other.Range)
			return
		}
	}
	play.Drills = append(play.Drills, d)
}

// drillUnitRe matches the services a drill accepts.
var drillUnitRe = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+\.service$`)

// stringOf returns v as a string, or "" when it is not one.
func stringOf(v cty.Value) string {
	if v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

// checkDrills refuses the play's drills when it has no health check and
// none of them allows it: a drill that only sees the process come back
// proves little.
func (l *loader) checkDrills(play *Play) {
	has := false
	for _, t := range play.Tasks {
		if t.Kind == "health_check" {
			has = true
		}
	}
	if has {
		return
	}
	for _, d := range play.Drills {
		if !d.AllowWithoutHealthCheck {
			l.errorf(d.Range, "Drill without a health check",
				"refuse: play %q has no health_check, so a drill of %s could only see a process come back, not the service answer. Add a health_check task to the play, or set allow_without_health_check = true.",
				play.Name, d.Unit)
		}
	}
}
