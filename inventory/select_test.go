package inventory

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const selectInv = `
group "web" {
  host "web1" {}
  host "web2" {}
}
group "db" {
  host "db1" {}
  host "db2" {}
}
host "cache1" {}
group "prod" {
  members  = ["cache1"]
  children = ["db"]
}
group "all_web" {
  children = ["web"]
}
`

func TestSelect(t *testing.T) {
	inv := mustParse(t, selectInv)
	tests := []struct {
		name     string
		patterns []string
		want     []string
		errHas   string
	}{
		{"all", []string{"all"}, []string{"web1", "web2", "db1", "db2", "cache1"}, ""},
		{"host", []string{"db2"}, []string{"db2"}, ""},
		{"group", []string{"web"}, []string{"web1", "web2"}, ""},
		{"children and members", []string{"prod"}, []string{"db1", "db2", "cache1"}, ""},
		{"nested children", []string{"all_web"}, []string{"web1", "web2"}, ""},
		{"inventory order, not pattern order", []string{"db1", "web2"}, []string{"web2", "db1"}, ""},
		{"comma list", []string{"cache1,web1"}, []string{"web1", "cache1"}, ""},
		{"glob over hosts", []string{"db*"}, []string{"db1", "db2"}, ""},
		{"glob over groups", []string{"we?"}, []string{"web1", "web2"}, ""},
		{"char class", []string{"web[2-9]"}, []string{"web2"}, ""},
		{"exclusion", []string{"all", "!db1"}, []string{"web1", "web2", "db2", "cache1"}, ""},
		{"exclusion alone starts from all", []string{"!prod"}, []string{"web1", "web2"}, ""},
		{"exclude a group", []string{"prod,!db"}, []string{"cache1"}, ""},
		{"intersection", []string{"all,&prod,!cache1"}, []string{"db1", "db2"}, ""},
		{"duplicates once", []string{"web1", "web", "web*"}, []string{"web1", "web2"}, ""},
		{"spaces trimmed", []string{" web1 , db1 "}, []string{"web1", "db1"}, ""},
		{"everything excluded", []string{"web", "!web"}, nil, ""},
		{"unknown", []string{"webb"}, nil, `"webb" matches no host or group`},
		{"unknown lists names", []string{"nope"}, nil, "hosts: web1, web2, db1, db2, cache1; groups: web, db, prod, all_web"},
		{"unknown suggests", []string{"wbe1"}, nil, `Did you mean "web1"?`},
		{"unknown exclusion", []string{"all,!dbx"}, nil, `"!dbx" matches no host or group`},
		{"glob matching nothing", []string{"x*"}, nil, "matches no host or group"},
		{"bad glob", []string{"web["}, nil, "syntax error in pattern"},
		{"empty", []string{"", " , "}, nil, "empty host pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hosts, err := inv.Select(tt.patterns)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Select(%q) error = %v, want one containing %q", tt.patterns, err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Select(%q): %v", tt.patterns, err)
			}
			var got []string
			for _, h := range hosts {
				got = append(got, h.Name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Select(%q) = %v, want %v", tt.patterns, got, tt.want)
			}
		})
	}
}

func TestSelectPatternError(t *testing.T) {
	inv := mustParse(t, selectInv)
	_, err := inv.Select([]string{"nope"})
	var pe *PatternError
	if !errors.As(err, &pe) || pe.Pattern != "nope" || len(pe.Hosts) != 5 || len(pe.Groups) != 4 {
		t.Errorf("error = %#v, want a *PatternError naming the known hosts and groups", err)
	}
}
