package modules

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// decoded is what decodeBody saw of the attributes besides their values.
// Nested block attributes are named "block.attr".
type decoded struct {
	// marked holds the attributes whose value carried a cty mark (the
	// playbook's sensitive values); modules treat them as sensitive.
	marked map[string]bool
	// unknown holds the attributes whose value is not (wholly) known. That
	// happens when a playbook is validated for no particular host: host.*
	// and each.* are unknown then. Such an attribute reaches the target
	// struct as null, as if it were not set, so Decode must skip every
	// check that needs its value and must not take its absence for granted
	// (a default, "exactly one of", a cross-attribute warning).
	unknown map[string]bool
	// types holds the type of each attribute's value as written, before
	// gohcl converted it to the field's type (a number into a string
	// field, say).
	types map[string]cty.Type
}

// given reports whether attr was written with a value: set (non-null) or
// unknown.
func (d decoded) given(attr string, set bool) bool {
	return set || d.unknown[attr]
}

// anyUnknown reports whether any of attrs is unknown.
func (d decoded) anyUnknown(attrs ...string) bool {
	for _, a := range attrs {
		if d.unknown[a] {
			return true
		}
	}
	return false
}

// required reports a required attribute that is missing or null. Required
// attributes are decoded into pointer fields, which gohcl treats as
// optional, so that an unknown value can reach Decode as nil; this is
// gohcl's own check for them.
func required(body hcl.Body, dec decoded, attr string, set bool) hcl.Diagnostics {
	if dec.given(attr, set) {
		return nil
	}
	if _, written := dec.types[attr]; written {
		return hcl.Diagnostics{errAt(body, attr, "Invalid value", fmt.Sprintf("%s must not be null.", attr))}
	}
	rng := body.MissingItemRange()
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Missing required argument",
		Detail: fmt.Sprintf("The argument %q is required, but no definition was found.", attr), Subject: &rng}}
}

// decodeBody decodes body into target (a pointer to a struct with gohcl
// tags). Values that carry cty marks (the playbook's sensitive values) are
// unmarked before gohcl sees them, because gohcl panics on marked values;
// values that are not wholly known are replaced by null, because gohcl
// refuses them. What it did is returned in decoded; its maps keep filling
// while the module reads nested bodies it got from target.
func decodeBody(body hcl.Body, ctx *hcl.EvalContext, target any) (decoded, hcl.Diagnostics) {
	d := decoded{marked: map[string]bool{}, unknown: map[string]bool{}, types: map[string]cty.Type{}}
	diags := gohcl.DecodeBody(unmarkBody{Body: body, d: d}, ctx, target)
	return d, diags
}

// unmarkBody wraps a body so that every attribute's value comes back
// unmarked and known (or null), recording what it changed.
type unmarkBody struct {
	hcl.Body
	prefix string
	d      decoded
}

func (b unmarkBody) Content(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	c, diags := b.Body.Content(s)
	return b.wrap(c), diags
}

func (b unmarkBody) PartialContent(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Body, hcl.Diagnostics) {
	c, rest, diags := b.Body.PartialContent(s)
	if rest != nil {
		rest = unmarkBody{Body: rest, prefix: b.prefix, d: b.d}
	}
	return b.wrap(c), rest, diags
}

func (b unmarkBody) JustAttributes() (hcl.Attributes, hcl.Diagnostics) {
	attrs, diags := b.Body.JustAttributes()
	return b.wrapAttrs(attrs), diags
}

func (b unmarkBody) wrapAttrs(attrs hcl.Attributes) hcl.Attributes {
	if attrs == nil {
		return nil
	}
	out := make(hcl.Attributes, len(attrs))
	for name, a := range attrs {
		c := *a
		c.Expr = unmarkExpr{Expression: a.Expr, key: b.prefix + name, d: b.d}
		out[name] = &c
	}
	return out
}

func (b unmarkBody) wrap(c *hcl.BodyContent) *hcl.BodyContent {
	if c == nil {
		return nil
	}
	out := *c
	out.Attributes = b.wrapAttrs(c.Attributes)
	out.Blocks = make(hcl.Blocks, len(c.Blocks))
	for i, blk := range c.Blocks {
		nb := *blk
		nb.Body = unmarkBody{Body: blk.Body, prefix: b.prefix + blk.Type + ".", d: b.d}
		out.Blocks[i] = &nb
	}
	return &out
}

// unmarkExpr evaluates its expression, strips all marks from the value and
// turns a value that is not wholly known into null.
type unmarkExpr struct {
	hcl.Expression
	key string
	d   decoded
}

func (e unmarkExpr) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	v, diags := e.Expression.Value(ctx)
	if v == cty.NilVal {
		return v, diags
	}
	if v.ContainsMarked() {
		v, _ = v.UnmarkDeep()
		e.d.marked[e.key] = true
	}
	e.d.types[e.key] = v.Type()
	if !v.IsWhollyKnown() {
		e.d.unknown[e.key] = true
		v = cty.NullVal(v.Type())
	}
	return v, diags
}

// UnwrapExpression lets hcl.ExprList, hcl.ExprMap and friends see the
// wrapped expression.
func (e unmarkExpr) UnwrapExpression() hcl.Expression { return e.Expression }

// attrRange returns the source range of the attribute name in body (the
// whole "name = value"), or the body's missing-item range when the body has
// no such attribute.
func attrRange(body hcl.Body, name string) hcl.Range {
	if sb, ok := body.(*hclsyntax.Body); ok {
		if a, ok := sb.Attributes[name]; ok {
			return a.SrcRange
		}
		return body.MissingItemRange()
	}
	if body == nil {
		return hcl.Range{}
	}
	content, _, _ := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: name}}})
	if content != nil {
		if a, ok := content.Attributes[name]; ok {
			return a.Range
		}
	}
	return body.MissingItemRange()
}

// diagAt builds a diagnostic pointing at attribute attr of body (or at the
// body itself when attr is empty or absent).
func diagAt(body hcl.Body, sev hcl.DiagnosticSeverity, attr, summary, detail string) *hcl.Diagnostic {
	var rng hcl.Range
	if attr == "" {
		rng = body.MissingItemRange()
	} else {
		rng = attrRange(body, attr)
	}
	return &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: &rng}
}

// errAt is diagAt for errors.
func errAt(body hcl.Body, attr, summary, detail string) *hcl.Diagnostic {
	return diagAt(body, hcl.DiagError, attr, summary, detail)
}

// diagList collects a Decode's diagnostics about the attributes of body.
type diagList struct {
	body  hcl.Body
	diags hcl.Diagnostics
}

// bad adds an error at attr.
func (l *diagList) bad(attr, summary, detail string) {
	l.diags = append(l.diags, errAt(l.body, attr, summary, detail))
}

// check adds an error at attr for each error of errs that is not nil.
func (l *diagList) check(attr, summary string, errs ...error) {
	for _, err := range errs {
		if err != nil {
			l.bad(attr, summary, err.Error())
		}
	}
}

// labelExtra marks a diagnostic about the task's label: a path or unit
// name given as the block's label. Decode does not know where the label is
// written; such a diagnostic's subject is the body, and the playbook, which
// knows, points it at the label (see IsLabelDiagnostic).
type labelExtra struct{}

// labelErrAt is errAt for a mistake in the label.
func labelErrAt(body hcl.Body, summary, detail string) *hcl.Diagnostic {
	d := errAt(body, "", summary, detail)
	d.Extra = labelExtra{}
	return d
}

// pathErrAt is errAt for a path given by attr, or by the label when attr
// is "".
func pathErrAt(body hcl.Body, attr, summary, detail string) *hcl.Diagnostic {
	if attr == "" {
		return labelErrAt(body, summary, detail)
	}
	return errAt(body, attr, summary, detail)
}

// IsLabelDiagnostic reports whether d, from a module's Decode, is about the
// task's label rather than its body.
func IsLabelDiagnostic(d *hcl.Diagnostic) bool {
	_, ok := hcl.DiagnosticExtra[labelExtra](d)
	return ok
}

// warnAt is diagAt for warnings.
func warnAt(body hcl.Body, attr, summary, detail string) *hcl.Diagnostic {
	return diagAt(body, hcl.DiagWarning, attr, summary, detail)
}

// isSet reports whether an optional cty.Value attribute was given.
func isSet(v cty.Value) bool {
	return v != cty.NilVal && !v.IsNull()
}

var modeRe = regexp.MustCompile(`^[0-7]{3,4}$`)

// parseMode reads an octal permission string such as "0644" or "755".
func parseMode(s string) (fs.FileMode, error) {
	if !modeRe.MatchString(s) {
		return 0, fmt.Errorf("%q is not an octal file mode: write 3 or 4 octal digits, as a string, such as \"0644\"", s)
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, err
	}
	return fs.FileMode(n), nil
}

// formatMode shows a permission mode the way users write it: "0644".
func formatMode(m fs.FileMode) string {
	return fmt.Sprintf("%04o", uint32(m)&0o7777)
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$`)

// validAccount checks a user or group name (or numeric id).
func validAccount(s string) error {
	if len(s) > 256 || !nameRe.MatchString(s) {
		return fmt.Errorf("%q is not a valid user or group name", s)
	}
	return nil
}

// cleanAbsPath validates a path on the managed host: it must be absolute and
// free of control characters. It returns the cleaned path.
func cleanAbsPath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("the path is empty")
	}
	if !path.IsAbs(p) {
		return "", fmt.Errorf("%q is not an absolute path", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%q contains a control character", p)
		}
	}
	return path.Clean(p), nil
}

// parseDuration reads a Go duration string ("5s", "1m30s", "250ms") that
// must be positive.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write it like \"5s\", \"1m30s\" or \"250ms\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be longer than zero", s)
	}
	return d, nil
}

// stringMap converts an optional map-or-object value into a Go map of
// strings; numbers and bools are converted to their string form.
func stringMap(v cty.Value) (map[string]string, error) {
	if !isSet(v) {
		return nil, nil
	}
	if !v.IsKnown() {
		return nil, fmt.Errorf("the value is not known until apply")
	}
	ty := v.Type()
	if !ty.IsMapType() && !ty.IsObjectType() {
		return nil, fmt.Errorf("a map of strings is required, not %s", ty.FriendlyName())
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		s, err := ctyString(ev)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.AsString(), err)
		}
		out[k.AsString()] = s
	}
	return out, nil
}

// envMap reads an environment attribute: a map of variable names to
// values without NUL bytes. The error names the first bad variable.
func envMap(v cty.Value) (map[string]string, error) {
	env, err := stringMap(v)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !envKeyRe.MatchString(k) {
			return env, fmt.Errorf("%q is not an environment variable name.", k)
		}
		if strings.ContainsRune(env[k], 0) {
			return env, fmt.Errorf("The value of %s holds a NUL byte.", k)
		}
	}
	return env, nil
}

// deref returns *p, or "" when p is nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// stringList converts an optional list/tuple/set value into strings.
func stringList(v cty.Value) ([]string, error) {
	if !isSet(v) {
		return nil, nil
	}
	if !v.IsKnown() {
		return nil, fmt.Errorf("the value is not known until apply")
	}
	ty := v.Type()
	if !ty.IsListType() && !ty.IsTupleType() && !ty.IsSetType() {
		return nil, fmt.Errorf("a list of strings is required, not %s", ty.FriendlyName())
	}
	var out []string
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		s, err := ctyString(ev)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// ctyString renders a primitive value as a string.
func ctyString(v cty.Value) (string, error) {
	if v.IsNull() {
		return "", fmt.Errorf("the value is null")
	}
	if !v.IsKnown() {
		return "", fmt.Errorf("the value is not known until apply")
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), nil
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), nil
	case cty.Bool:
		return strconv.FormatBool(v.True()), nil
	}
	return "", fmt.Errorf("a string is required, not %s", v.Type().FriendlyName())
}

// firstLine returns the first non-empty line of a script, shortened for
// display.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if len(l) > 72 {
			l = l[:69] + "..."
		}
		return l
	}
	return ""
}

// tail returns at most the last n bytes of b, starting at a line boundary
// when possible, trimmed of surrounding whitespace.
func tail(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return "..." + strings.ToValidUTF8(s, "")
}
