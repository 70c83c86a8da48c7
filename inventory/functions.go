package inventory

import (
	"encoding/base64"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Functions returns the function table shared by inventories and playbooks:
// the cty standard library under Terraform's names (upper, lower, format,
// join, split, replace, concat, merge, keys, values, length, lookup, ...),
// plus env and sensitive. The map is fresh on every call, so callers may add to it.
func Functions() map[string]function.Function {
	return map[string]function.Function{
		// Numbers.
		"abs":      stdlib.AbsoluteFunc,
		"ceil":     stdlib.CeilFunc,
		"floor":    stdlib.FloorFunc,
		"log":      stdlib.LogFunc,
		"max":      stdlib.MaxFunc,
		"min":      stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc,
		"pow":      stdlib.PowFunc,
		"signum":   stdlib.SignumFunc,

		// Strings.
		"base64decode": base64DecodeFunc,
		"base64encode": base64EncodeFunc,
		"basename":     basenameFunc,
		"chomp":        stdlib.ChompFunc,
		"dirname":      dirnameFunc,
		"endswith":     endsWithFunc,
		"format":       stdlib.FormatFunc,
		"formatlist":   stdlib.FormatListFunc,
		"indent":       stdlib.IndentFunc,
		"join":         stdlib.JoinFunc,
		"lower":        stdlib.LowerFunc,
		"regex":        stdlib.RegexFunc,
		"regexall":     stdlib.RegexAllFunc,
		"replace":      replaceFunc,
		"split":        stdlib.SplitFunc,
		"startswith":   startsWithFunc,
		"strcontains":  strContainsFunc,
		"strlen":       stdlib.StrlenFunc,
		"strrev":       stdlib.ReverseFunc,
		"substr":       stdlib.SubstrFunc,
		"title":        stdlib.TitleFunc,
		"trim":         stdlib.TrimFunc,
		"trimprefix":   stdlib.TrimPrefixFunc,
		"trimspace":    stdlib.TrimSpaceFunc,
		"trimsuffix":   stdlib.TrimSuffixFunc,
		"upper":        stdlib.UpperFunc,

		// Collections.
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"keys":            stdlib.KeysFunc,
		"length":          lengthFunc,
		"lookup":          stdlib.LookupFunc,
		"merge":           stdlib.MergeFunc,
		"range":           stdlib.RangeFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,

		// Encoding, dates and conversions.
		"csvdecode":  stdlib.CSVDecodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc,
		"formatdate": stdlib.FormatDateFunc,
		"timeadd":    stdlib.TimeAddFunc,
		"tobool":     stdlib.MakeToFunc(cty.Bool),
		"tolist":     stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":      stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber":   stdlib.MakeToFunc(cty.Number),
		"toset":      stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":   stdlib.MakeToFunc(cty.String),

		// Environment and secrets.
		"env":       EnvFunc,
		"sensitive": SensitiveFunc,
	}
}

// EnvFunc is env(name) or env(name, default): the value of an environment
// variable of the tend process. Without a default, an unset variable is an
// error, so a typo does not silently become an empty string.
var EnvFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable, or the default when it is unset.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	VarParam:    &function.Parameter{Name: "default", Type: cty.String},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) > 2 {
			return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
		}
		name := args[0].AsString()
		if v, ok := os.LookupEnv(name); ok {
			return cty.StringVal(v), nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return cty.NilVal, fmt.Errorf("environment variable %q is not set (give env a default: env(%q, \"...\"))", name, name)
	},
})

// stringFunc builds a function from strings to a value of type ret.
func stringFunc(desc string, params []string, ret cty.Type, impl func(args []string) (cty.Value, error)) function.Function {
	ps := make([]function.Parameter, len(params))
	for i, p := range params {
		ps[i] = function.Parameter{Name: p, Type: cty.String}
	}
	return function.New(&function.Spec{
		Description: desc,
		Params:      ps,
		Type:        function.StaticReturnType(ret),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			strs := make([]string, len(args))
			for i, a := range args {
				strs[i] = a.AsString()
			}
			return impl(strs)
		},
	})
}

// replaceFunc is Terraform's replace: a substring wrapped in slashes is a
// regular expression.
var replaceFunc = stringFunc("Replaces each occurrence of substr (a regular expression when written /re/) in str.",
	[]string{"str", "substr", "replace"}, cty.String, func(a []string) (cty.Value, error) {
		str, substr, repl := a[0], a[1], a[2]
		if len(substr) > 1 && strings.HasPrefix(substr, "/") && strings.HasSuffix(substr, "/") {
			re, err := regexp.Compile(substr[1 : len(substr)-1])
			if err != nil {
				return cty.NilVal, function.NewArgError(1, err)
			}
			return cty.StringVal(re.ReplaceAllString(str, repl)), nil
		}
		return cty.StringVal(strings.ReplaceAll(str, substr, repl)), nil
	})

var startsWithFunc = stringFunc("Reports whether str begins with prefix.", []string{"str", "prefix"}, cty.Bool,
	func(a []string) (cty.Value, error) { return cty.BoolVal(strings.HasPrefix(a[0], a[1])), nil })

var endsWithFunc = stringFunc("Reports whether str ends with suffix.", []string{"str", "suffix"}, cty.Bool,
	func(a []string) (cty.Value, error) { return cty.BoolVal(strings.HasSuffix(a[0], a[1])), nil })

var strContainsFunc = stringFunc("Reports whether str contains substr.", []string{"str", "substr"}, cty.Bool,
	func(a []string) (cty.Value, error) { return cty.BoolVal(strings.Contains(a[0], a[1])), nil })

var basenameFunc = stringFunc("Returns the last element of a slash-separated path.", []string{"path"}, cty.String,
	func(a []string) (cty.Value, error) { return cty.StringVal(path.Base(a[0])), nil })

var dirnameFunc = stringFunc("Returns all but the last element of a slash-separated path.", []string{"path"}, cty.String,
	func(a []string) (cty.Value, error) { return cty.StringVal(path.Dir(a[0])), nil })

var base64EncodeFunc = stringFunc("Encodes a string with standard base64.", []string{"str"}, cty.String,
	func(a []string) (cty.Value, error) {
		return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(a[0]))), nil
	})

var base64DecodeFunc = stringFunc("Decodes standard base64 into a UTF-8 string.", []string{"str"}, cty.String,
	func(a []string) (cty.Value, error) {
		b, err := base64.StdEncoding.DecodeString(a[0])
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		if !utf8.Valid(b) {
			return cty.NilVal, function.NewArgErrorf(0, "the decoded bytes are not valid UTF-8")
		}
		return cty.StringVal(string(b)), nil
	})

// lengthFunc is Terraform's length: the number of characters of a string, or
// of elements of a collection.
var lengthFunc = function.New(&function.Spec{
	Description: "Returns the number of characters of a string or of elements of a collection.",
	Params: []function.Parameter{{
		Name: "value", Type: cty.DynamicPseudoType,
		AllowDynamicType: true, AllowUnknown: true,
	}},
	Type: func(args []cty.Value) (cty.Type, error) {
		ty := args[0].Type()
		if ty == cty.String || ty == cty.DynamicPseudoType || ty.IsObjectType() ||
			ty.IsTupleType() || ty.IsListType() || ty.IsMapType() || ty.IsSetType() {
			return cty.Number, nil
		}
		return cty.NilType, fmt.Errorf("length needs a string, a list, a map, a set or an object, not %s", ty.FriendlyName())
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		switch {
		case !v.IsKnown() || v.IsNull():
			if v.IsNull() {
				return cty.NilVal, function.NewArgErrorf(0, "value must not be null")
			}
			return cty.UnknownVal(cty.Number), nil
		case v.Type() == cty.String:
			return stdlib.Strlen(v)
		case v.Type().IsObjectType():
			return cty.NumberIntVal(int64(len(v.Type().AttributeTypes()))), nil
		}
		return v.Length(), nil
	},
})
