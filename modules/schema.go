package modules

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// A module's attributes are declared once, on the fields of its config
// struct (the struct gohcl decodes the task's body into):
//
//	Path  *string `hcl:"path,optional" doc:"The file to edit." required:"true"`
//	State *string `hcl:"state,optional" doc:"…" enum:"present,absent" default:"present"`
//	Key   *string `hcl:"key,optional" doc:"…" sensitive:"ok"`
//
// decodeConfig reads the tags to decode (required attributes, allowed
// values, defaults, sensitive values refused unless "ok"), and Schema reads
// them for `tend modules KIND` and the README's module table. An attribute
// is declared optional to gohcl (a pointer) even when required, so that an
// unknown value (validation for no particular host) reaches Decode as nil.
//
// A value that breaks a tag's rule is reported at the attribute, and the
// module sees the attribute as unknown (see decodeConfig).
//
// Tags:
//   - doc: one or more sentences for the help. validate and backup, which
//     every file-writing module takes, and settle and drop_ins, which every
//     unit module takes, have a shared doc (sharedDocs): leave it out.
//   - required:"true": the task must set it (a default makes no sense then).
//   - enum:"a,b,c": the value must be one of these strings.
//   - min:"1", max:"100": the bounds of an *int field.
//   - default:"v": filled in when the attribute is not written (not when it
//     is unknown); shown in the help. For *string, *bool and *int fields,
//     and cty.Value fields, which get the string v.
//   - sensitive:"ok" accepts a sensitive value (the module keeps it out of
//     every output); sensitive:"unit" accepts one with a warning, for a
//     setting written into a unit file, which every user of the host can
//     read; sensitive:"path" refuses one as a path on the host,
//     sensitive:"argv" as a setting written on a program's command line,
//     sensitive:"script" as a script or its environment; no tag refuses
//     one, since plans and messages show the attribute.
//   - type: the HCL type shown in the help, for cty.Value fields ("list of
//     string", "map of string", "string or list").

// Attr describes one attribute of a module.
type Attr struct {
	Name     string
	Type     string
	Doc      string
	Required bool
	Default  string
	Enum     []string
	// Bounds are the bounds of a number ("at least 1", "from 0 to 100").
	Bounds string
	// Sensitive says whether a sensitive value is accepted: "ok", "unit"
	// (accepted with a warning: it lands in a world-readable unit file), or
	// "" (refused).
	Sensitive string
	// Block is set for a nested block (Type is then "block" or "blocks").
	Block bool
}

// Schema returns the attributes of a module kind's config, in declaration
// order, or nil when the kind declares none.
func Schema(info Info) []Attr {
	if info.Config == nil {
		return nil
	}
	return schemaOf(reflect.TypeOf(info.Config()))
}

func schemaOf(t reflect.Type) []Attr {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []Attr
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("hcl")
		if tag == "" {
			continue
		}
		name, kind, _ := strings.Cut(tag, ",")
		if kind == "remain" || kind == "label" {
			continue
		}
		a := Attr{
			Name:      name,
			Doc:       attrDoc(f, name),
			Required:  f.Tag.Get("required") == "true" || (kind == "" && !isOptionalType(f.Type)),
			Default:   f.Tag.Get("default"),
			Sensitive: acceptsSensitive(f.Tag.Get("sensitive")),
			Type:      f.Tag.Get("type"),
			Bounds:    bounds(f),
			Block:     kind == "block",
		}
		if e := f.Tag.Get("enum"); e != "" {
			a.Enum = strings.Split(e, ",")
		}
		if a.Type == "" {
			a.Type = typeName(f.Type, a.Block)
		}
		out = append(out, a)
	}
	return out
}

// sharedDocs are the docs of attributes several modules take alike.
var sharedDocs = map[string]string{"validate": validateDoc, "backup": backupDoc, "settle": settleDoc, "drop_ins": dropInsDoc}

// attrDoc returns the doc of attribute name (field f): its doc tag, or the
// shared doc of validate, backup, settle and drop_ins.
func attrDoc(f reflect.StructField, name string) string {
	if doc, ok := f.Tag.Lookup("doc"); ok {
		return doc
	}
	return sharedDocs[name]
}

func isOptionalType(t reflect.Type) bool {
	return t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t == reflect.TypeOf(cty.Value{})
}

func typeName(t reflect.Type, block bool) string {
	if block {
		if t.Kind() == reflect.Slice {
			return "blocks"
		}
		return "block"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list of " + typeName(t.Elem(), false)
	case reflect.Map:
		return "map of " + typeName(t.Elem(), false)
	}
	return "any"
}

// decodeConfig decodes body into cfg (a pointer to a config struct) and
// applies its tags: it reports missing required attributes, values outside
// an enum or their bounds and sensitive values the attribute refuses, warns
// about those it takes into a unit file, and fills in defaults. Attributes
// that are unknown are left nil and not checked.
//
// ok is false when gohcl itself refused the body (an unexpected attribute,
// a value of the wrong type): cfg is then partly filled and the module must
// return the diagnostics without looking at it. Otherwise the module goes
// on and adds its own checks to the diagnostics decodeConfig reported: an
// attribute decodeConfig refused is left nil, counted unknown and no longer
// marked, so that the module checks it no further (its value is neither
// quoted, nor taken for absent) and every other mistake is still reported.
func decodeConfig(body hcl.Body, ctx *hcl.EvalContext, cfg any) (dec decoded, diags hcl.Diagnostics, ok bool) {
	dec, diags = decodeBody(body, ctx, cfg)
	if diags.HasErrors() {
		return dec, diags, false
	}
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, kind, _ := strings.Cut(f.Tag.Get("hcl"), ",")
		if name == "" || kind == "block" || kind == "remain" || kind == "label" {
			continue
		}
		fv := v.Field(i)
		d := checkAttr(body, dec, f, name, fv)
		if len(d) == 0 && f.Tag.Get("sensitive") == "unit" && dec.marked[name] {
			diags = append(diags, unitSecretWarning(attrRange(body, name), name))
		}
		if len(d) > 0 {
			diags = append(diags, d...)
			// Checked no further: see the doc comment.
			fv.SetZero()
			dec.unknown[name] = true
			delete(dec.marked, name)
			continue
		}
		if d, ok := f.Tag.Lookup("default"); ok && isNil(fv) && !dec.unknown[name] {
			if err := setDefault(fv, d); err != nil {
				panic(fmt.Sprintf("modules: default of %s.%s: %v", t.Name(), name, err))
			}
		}
	}
	return dec, diags, true
}

// checkAttr applies the tags of field f (attribute name, value fv): the
// sensitive refusal first, since the other messages may quote the value.
func checkAttr(body hcl.Body, dec decoded, f reflect.StructField, name string, fv reflect.Value) hcl.Diagnostics {
	set := !isNil(fv)
	if set && dec.marked[name] {
		why, known := refusals[f.Tag.Get("sensitive")]
		if !known {
			panic(fmt.Sprintf("modules: %s: unknown sensitive tag %q", name, f.Tag.Get("sensitive")))
		}
		if why != nil {
			summary, detail := why(name)
			return hcl.Diagnostics{errAt(body, name, summary, detail)}
		}
	}
	if f.Tag.Get("required") == "true" {
		if d := required(body, dec, name, set); d != nil {
			return d
		}
	}
	if !set || fv.Kind() != reflect.Pointer {
		return nil
	}
	// A sensitive value the attribute accepts is never quoted.
	shown := func(v string) string {
		if dec.marked[name] {
			return "the sensitive value given"
		}
		return v
	}
	// The message says what the attribute is for, from its doc.
	invalid := func(want, got string) hcl.Diagnostics {
		detail := fmt.Sprintf("%s must be %s, not %s.", name, want, shown(got))
		if doc := attrDoc(f, name); doc != "" {
			detail += " " + doc
		}
		return hcl.Diagnostics{errAt(body, name, "Invalid "+name, detail)}
	}
	if e := f.Tag.Get("enum"); e != "" && fv.Elem().Kind() == reflect.String {
		allowed := strings.Split(e, ",")
		if s := fv.Elem().String(); !slices.Contains(allowed, s) {
			return invalid(orList(allowed), strconv.Quote(s))
		}
	}
	if fv.Elem().Kind() == reflect.Int {
		n := fv.Elem().Int()
		lo, hasLo := intTag(f, "min")
		hi, hasHi := intTag(f, "max")
		if hasLo && n < lo || hasHi && n > hi {
			return invalid(bounds(f), strconv.FormatInt(n, 10))
		}
	}
	return nil
}

// intTag reads the min or max tag of f.
func intTag(f reflect.StructField, key string) (int64, bool) {
	s, ok := f.Tag.Lookup(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("modules: %s tag of %s: %v", key, f.Name, err))
	}
	return n, true
}

// bounds writes the min and max tags of f: "at least 1", "from 0 to 100",
// "at most 9", or "" when it has neither.
func bounds(f reflect.StructField) string {
	lo, hasLo := intTag(f, "min")
	hi, hasHi := intTag(f, "max")
	switch {
	case hasLo && hasHi:
		return fmt.Sprintf("from %d to %d", lo, hi)
	case hasLo:
		return fmt.Sprintf("at least %d", lo)
	case hasHi:
		return fmt.Sprintf("at most %d", hi)
	}
	return ""
}

// refusals maps the sensitive tag to the refusal of a sensitive value
// (nil: accepted).
var refusals = map[string]refusal{
	"":       shownRefusal,
	"path":   pathRefusal,
	"argv":   argvRefusal,
	"script": scriptRefusal,
	"ok":     nil,
	"unit":   nil,
}

// acceptsSensitive returns Attr.Sensitive for a sensitive tag.
func acceptsSensitive(tag string) string {
	if why, known := refusals[tag]; known && why == nil {
		return tag
	}
	return ""
}

func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return v.IsNil()
	}
	if cv, ok := v.Interface().(cty.Value); ok {
		return !isSet(cv)
	}
	return false
}

func setDefault(fv reflect.Value, d string) error {
	if fv.Type() == typeOf[cty.Value]() {
		fv.Set(reflect.ValueOf(cty.StringVal(d)))
		return nil
	}
	if fv.Kind() != reflect.Pointer {
		return fmt.Errorf("no default for a %s", fv.Kind())
	}
	p := reflect.New(fv.Type().Elem())
	switch p.Elem().Kind() {
	case reflect.String:
		p.Elem().SetString(d)
	case reflect.Bool:
		b, err := strconv.ParseBool(d)
		if err != nil {
			return err
		}
		p.Elem().SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return err
		}
		p.Elem().SetInt(n)
	default:
		return fmt.Errorf("no default for a %s", p.Elem().Kind())
	}
	fv.Set(p)
	return nil
}

// orList writes values as `"a", "b" or "c"`, or `one of "a", "b", …` when
// there are more than four.
func orList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	switch {
	case len(q) == 1:
		return q[0]
	case len(q) > 4:
		return "one of " + strings.Join(q, ", ")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// typeOf returns the reflect.Type of T.
func typeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }
