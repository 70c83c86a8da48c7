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
// Tags:
//   - doc: one or more sentences for the help.
//   - required:"true": the task must set it (a default makes no sense then).
//   - enum:"a,b,c": the value must be one of these strings.
//   - default:"v": filled in when the attribute is not written (not when it
//     is unknown); shown in the help. For *string, *bool and *int fields.
//   - sensitive:"ok" accepts a sensitive value (the module keeps it out of
//     every output); sensitive:"path" refuses one as a path on the host; no
//     tag refuses one, since plans print the attribute.
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
	// Sensitive says whether a sensitive value is accepted.
	Sensitive bool
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
			Doc:       f.Tag.Get("doc"),
			Required:  f.Tag.Get("required") == "true" || (kind == "" && !isOptionalType(f.Type)),
			Default:   f.Tag.Get("default"),
			Sensitive: f.Tag.Get("sensitive") == "ok",
			Type:      f.Tag.Get("type"),
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
// an enum and sensitive values the attribute refuses, and fills in
// defaults. Attributes that are unknown are left nil and not checked.
func decodeConfig(body hcl.Body, ctx *hcl.EvalContext, cfg any) (decoded, hcl.Diagnostics) {
	dec, diags := decodeBody(body, ctx, cfg)
	if diags.HasErrors() {
		return dec, diags
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
		set := !isNil(fv)
		if set && dec.marked[name] {
			switch f.Tag.Get("sensitive") {
			case "ok":
			case "path":
				diags = append(diags, refuseSensitive(body, dec.marked, pathRefusal, name)...)
			default:
				diags = append(diags, refuseSensitive(body, dec.marked, shownRefusal, name)...)
			}
		}
		if f.Tag.Get("required") == "true" {
			diags = append(diags, required(body, dec, name, set)...)
		}
		if e := f.Tag.Get("enum"); e != "" && set && fv.Kind() == reflect.Pointer && fv.Elem().Kind() == reflect.String {
			allowed := strings.Split(e, ",")
			if s := fv.Elem().String(); !slices.Contains(allowed, s) {
				diags = append(diags, errAt(body, name, "Invalid value for "+name,
					fmt.Sprintf("%s must be %s, not %q.", name, orList(allowed), s)))
			}
		}
		if d, ok := f.Tag.Lookup("default"); ok && !set && !dec.unknown[name] && fv.Kind() == reflect.Pointer {
			if err := setDefault(fv, d); err != nil {
				panic(fmt.Sprintf("modules: default of %s.%s: %v", t.Name(), name, err))
			}
		}
	}
	return dec, diags
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

// orList writes values as `"a", "b" or "c"`.
func orList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// typeOf returns the reflect.Type of T.
func typeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }
