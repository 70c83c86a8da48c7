package inventory

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/agext/levenshtein"
)

// Host returns the host called name, or nil.
func (inv *Inventory) Host(name string) *Host {
	for _, h := range inv.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Group returns the group called name, or nil.
func (inv *Inventory) Group(name string) *Group {
	for _, g := range inv.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// PatternError reports a host pattern that selects nothing.
type PatternError struct {
	// Pattern is the offending pattern, as written (with its ! or & prefix).
	Pattern string
	// Hosts and Groups are the names the inventory knows.
	Hosts, Groups []string
	// Err is set when the pattern is not a valid glob.
	Err error
}

func (e *PatternError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("host pattern %q: %v", e.Pattern, e.Err)
	}
	bare := strings.TrimLeft(e.Pattern, "!&")
	return fmt.Sprintf("host pattern %q matches no host or group (hosts: %s; groups: %s).%s",
		e.Pattern, listOrNone(e.Hosts), listOrNone(e.Groups),
		Suggest(bare, append(append([]string{}, e.Hosts...), e.Groups...)))
}

func (e *PatternError) Unwrap() error { return e.Err }

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Select returns the hosts the patterns select, in inventory order.
//
// Each pattern may be a comma-separated list. A term is a host or group name,
// a glob over those names (path.Match syntax: *, ?, [a-z]), or "all". A term
// prefixed with "!" excludes the hosts it matches; one prefixed with "&"
// keeps only hosts it also matches. Without any plain term, the selection
// starts from all hosts, so "!db1" means every host but db1. A term that
// matches nothing is an error (a *PatternError naming the known hosts and
// groups), so a typo in --limit never silently selects nothing.
func (inv *Inventory) Select(patterns []string) ([]*Host, error) {
	var include, intersect, exclude [][]bool
	seen := false
	for _, p := range patterns {
		for _, term := range strings.Split(p, ",") {
			term = strings.TrimSpace(term)
			if term == "" {
				continue
			}
			seen = true
			var list *[][]bool
			bare := term
			switch term[0] {
			case '!':
				list, bare = &exclude, strings.TrimSpace(term[1:])
			case '&':
				list, bare = &intersect, strings.TrimSpace(term[1:])
			default:
				list = &include
			}
			m, err := inv.match(bare)
			if err != nil {
				return nil, inv.patternError(term, err)
			}
			*list = append(*list, m)
		}
	}
	if !seen {
		return nil, errors.New("empty host pattern")
	}
	sel := make([]bool, len(inv.Hosts))
	if len(include) == 0 {
		for i := range sel {
			sel[i] = true
		}
	}
	for _, m := range include {
		for i := range sel {
			sel[i] = sel[i] || m[i]
		}
	}
	for _, m := range intersect {
		for i := range sel {
			sel[i] = sel[i] && m[i]
		}
	}
	for _, m := range exclude {
		for i := range sel {
			sel[i] = sel[i] && !m[i]
		}
	}
	var out []*Host
	for i, h := range inv.Hosts {
		if sel[i] {
			out = append(out, h)
		}
	}
	return out, nil
}

// errNoMatch marks a term that matched nothing.
var errNoMatch = errors.New("no match")

// match returns, per host index, whether term selects the host.
func (inv *Inventory) match(term string) ([]bool, error) {
	m := make([]bool, len(inv.Hosts))
	if term == "" {
		return nil, errors.New("empty pattern after ! or &")
	}
	if _, err := path.Match(term, ""); err != nil {
		return nil, err
	}
	found := false
	if term == "all" {
		for i := range m {
			m[i] = true
		}
		return m, nil
	}
	for i, h := range inv.Hosts {
		if ok, _ := path.Match(term, h.Name); ok {
			m[i], found = true, true
		}
	}
	var index map[string][]int // host name → positions, made on first use
	for _, g := range inv.Groups {
		if ok, _ := path.Match(term, g.Name); !ok {
			continue
		}
		found = true
		if index == nil {
			// A map, not a scan per member: a group of N hosts would cost N².
			index = make(map[string][]int, len(inv.Hosts))
			for i, h := range inv.Hosts {
				index[h.Name] = append(index[h.Name], i)
			}
		}
		for _, name := range g.Hosts {
			for _, i := range index[name] {
				m[i] = true
			}
		}
	}
	if !found {
		return nil, errNoMatch
	}
	return m, nil
}

func (inv *Inventory) patternError(term string, err error) error {
	e := &PatternError{Pattern: term}
	if !errors.Is(err, errNoMatch) {
		e.Err = err
	}
	for _, h := range inv.Hosts {
		e.Hosts = append(e.Hosts, h.Name)
	}
	for _, g := range inv.Groups {
		e.Groups = append(e.Groups, g.Name)
	}
	return e
}

// Suggest returns ` Did you mean "x"?` for the candidate closest to name
// (edit distance below 3, and below the name's length), or "" when none is
// close. Inventory and playbook diagnostics share it.
func Suggest(name string, candidates []string) string {
	best, bestD := "", min(3, len([]rune(name)))
	for _, c := range candidates {
		if d := levenshtein.Distance(name, c, nil); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}
