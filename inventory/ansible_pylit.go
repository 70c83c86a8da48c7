package inventory

import (
	"math/big"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// pyValue reads an INI inventory value as Ansible does (ast.literal_eval,
// the text itself when that fails): a Python literal — 5, -1.5, True,
// None, 'quoted', [1, 2], {'a': 1} — becomes its value, anything else
// (true, yes, a path, a host name) stays the string it is.
func pyValue(s string) cty.Value {
	p := &pyParser{s: s}
	p.space()
	v, ok := p.value()
	p.space()
	if !ok || p.i != len(p.s) {
		return cty.StringVal(s)
	}
	return v
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *pyParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *pyParser) value() (cty.Value, bool) {
	switch c := p.peek(); {
	case c == '\'' || c == '"':
		return p.str()
	case c == '[' || c == '(':
		return p.seq()
	case c == '{':
		return p.dict()
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	}
	start := p.i
	for p.i < len(p.s) && (isIdent(p.s[p.i])) {
		p.i++
	}
	switch p.s[start:p.i] {
	case "True":
		return cty.True, true
	case "False":
		return cty.False, true
	case "None":
		return cty.NullVal(cty.DynamicPseudoType), true
	}
	return cty.NilVal, false
}

func isIdent(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func (p *pyParser) number() (cty.Value, bool) {
	start := p.i
	if c := p.peek(); c == '-' || c == '+' {
		p.i++
	}
	for p.i < len(p.s) && strings.IndexByte("0123456789._eE", p.s[p.i]) >= 0 {
		if (p.s[p.i] == 'e' || p.s[p.i] == 'E') && p.i+1 < len(p.s) && (p.s[p.i+1] == '-' || p.s[p.i+1] == '+') {
			p.i++
		}
		p.i++
	}
	text := strings.ReplaceAll(p.s[start:p.i], "_", "")
	digits := strings.TrimLeft(text, "+-")
	// Python rejects leading zeros on integers (010), as Ansible then
	// keeps the string: zero-padded numbers stay strings.
	if len(digits) > 1 && digits[0] == '0' && !strings.ContainsAny(digits, ".eE") {
		return cty.NilVal, false
	}
	f, _, err := big.ParseFloat(text, 10, 512, big.ToNearestEven)
	if err != nil || digits == "" {
		return cty.NilVal, false
	}
	return cty.NumberVal(f), true
}

func (p *pyParser) str() (cty.Value, bool) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return cty.StringVal(b.String()), true
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			switch e := p.s[p.i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\', '\'', '"':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
		p.i++
	}
	return cty.NilVal, false
}

func (p *pyParser) seq() (cty.Value, bool) {
	closing := byte(']')
	if p.s[p.i] == '(' {
		closing = ')'
	}
	p.i++
	var elems []cty.Value
	for {
		p.space()
		if p.peek() == closing {
			p.i++
			return cty.TupleVal(elems), true
		}
		v, ok := p.value()
		if !ok {
			return cty.NilVal, false
		}
		elems = append(elems, v)
		p.space()
		switch p.peek() {
		case ',':
			p.i++
		case closing:
		default:
			return cty.NilVal, false
		}
	}
}

func (p *pyParser) dict() (cty.Value, bool) {
	p.i++
	attrs := map[string]cty.Value{}
	for {
		p.space()
		if p.peek() == '}' {
			p.i++
			return cty.ObjectVal(attrs), true
		}
		k, ok := p.value()
		if !ok || k.IsNull() {
			return cty.NilVal, false
		}
		key, ok := ansibleString(k)
		if !ok {
			return cty.NilVal, false
		}
		p.space()
		if p.peek() != ':' {
			return cty.NilVal, false
		}
		p.i++
		p.space()
		v, ok := p.value()
		if !ok {
			return cty.NilVal, false
		}
		attrs[key] = v
		p.space()
		switch p.peek() {
		case ',':
			p.i++
		case '}':
		default:
			return cty.NilVal, false
		}
	}
}
