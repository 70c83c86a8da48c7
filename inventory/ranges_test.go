package inventory

import "testing"

// TestSettingRanges: each host knows where its connection settings were
// written, at the level that won (defaults < group < host).
func TestSettingRanges(t *testing.T) {
	inv := mustParse(t, `defaults {
  identity_file       = "/keys/default"
  become_password_env = "PW"
}
group "web" {
  identity_file = "/keys/web"
  host "web1" {}
  host "web2" {
    identity_file = "/keys/web2"
  }
}
host "db1" {}
`)
	for _, tc := range []struct {
		host, attr string
		line       int
	}{
		{"web1", "identity_file", 6},
		{"web2", "identity_file", 9},
		{"db1", "identity_file", 2},
		{"web2", "become_password_env", 3},
	} {
		r, ok := inv.Host(tc.host).SettingRanges[tc.attr]
		if !ok || r.Start.Line != tc.line || r.Filename != "inv.hcl" {
			t.Errorf("%s %s at %v (%v), want inv.hcl line %d", tc.host, tc.attr, r, ok, tc.line)
		}
	}
	if _, ok := inv.Host("db1").SettingRanges["vars"]; ok {
		t.Error("vars are not a connection setting")
	}
}
