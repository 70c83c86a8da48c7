package health

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tend-sh/tend/modules"

	"github.com/tend-sh/tend/executor/atomicfile"
)

var update = flag.Bool("update", false, "rewrite golden files")

func intp(n int) *int { return &n }

// sample is a report of three hosts: one healthy, one whose database is
// gone and whose unit systemd restarted, one unreachable.
func sample() Report {
	changed := time.Date(2026, 1, 22, 15, 0, 0, 0, time.UTC)
	return Report{
		Time:  time.Date(2026, 1, 22, 16, 0, 0, 0, time.UTC),
		Hosts: []string{"web1", "web2", "web3"},
		Rows: []Row{
			{Host: "web1", Check: "connection", Kind: KindConnection, Latency: 41 * time.Millisecond},
			{Host: "web1", Check: "unit staffrota.service", Kind: KindUnit, Unit: "staffrota.service", ActiveState: "active", SubState: "running", Restarts: intp(0), RestartsTotal: intp(0), LastChange: changed},
			{Host: "web1", Check: "unit new.service", Kind: KindUnit, Unit: "new.service", ActiveState: "active", SubState: "running", RestartsTotal: intp(2)},
			{Host: "web1", Check: "health_check.home", Kind: KindHTTP, Code: 200, Latency: 3 * time.Millisecond},
			{Host: "web1", Check: "health_check.workers", Kind: KindProcesses, Processes: intp(3)},
			{Host: "web2", Check: "connection", Kind: KindConnection, Latency: 52 * time.Millisecond},
			{Host: "web2", Check: "unit staffrota.service", Kind: KindUnit, Unit: "staffrota.service", ActiveState: "active", SubState: "running", Restarts: intp(1), RestartsTotal: intp(4), LastChange: changed, Status: Warning, Message: "staffrota.service was restarted by systemd 1 time(s) since the last check"},
			{Host: "web2", Check: "health_check.health", Kind: KindHTTP, Code: 503, Latency: 2500 * time.Microsecond, Status: Critical, Message: "status 503, want 200 (in 3ms); body: {\"status\": \"error\"}"},
			{Host: "web3", Check: "connection", Kind: KindConnection, Status: Critical, Message: "web3: unreachable: dial tcp 10.0.0.3:22: connect: no route to host"},
		},
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sample(), false); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.txt", b.String())
	if strings.Contains(b.String(), "\x1b[") || strings.Contains(b.String(), "\x00") {
		t.Error("colour codes or markers with colour off")
	}
	var c bytes.Buffer
	if err := WriteTable(&c, sample(), true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.String(), "\x1b[31;1mCRITICAL\x1b[0;22m") {
		t.Errorf("no red CRITICAL with colour on:\n%q", c.String())
	}
	// Colour changes no column: without the codes it is the plain table.
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(c.String(), "")
	if plain != b.String() {
		t.Errorf("coloured table differs in layout:\n%s", plain)
	}
}

// TestStatus: the exit code is the worst status, critical over unknown
// over warning.
func TestStatus(t *testing.T) {
	tests := []struct {
		rows []Status
		want Status
	}{
		{nil, OK},
		{[]Status{OK, OK}, OK},
		{[]Status{OK, Warning}, Warning},
		{[]Status{Warning, Unknown}, Unknown},
		{[]Status{Critical, Unknown, Warning}, Critical},
		{[]Status{Unknown, Critical}, Critical},
	}
	for _, tc := range tests {
		var r Report
		for _, s := range tc.rows {
			r.Rows = append(r.Rows, Row{Host: "h", Status: s})
		}
		if got := r.Status(); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.rows, got, tc.want)
		}
	}
	if s := sample(); s.Status() != Critical || s.HostStatus("web1") != OK || s.HostStatus("web2") != Critical {
		t.Errorf("sample: %v, web1 %v, web2 %v", s.Status(), s.HostStatus("web1"), s.HostStatus("web2"))
	}
	if got := Summary(sample()); got != "tend check CRITICAL: critical web2, web3 of 3 hosts" {
		t.Errorf("summary %q", got)
	}
}

func TestUnitRow(t *testing.T) {
	tests := []struct {
		name  string
		u     modules.UnitHealth
		since *int
		want  Status
		msg   string
	}{
		{"running", modules.UnitHealth{LoadState: "loaded", ActiveState: "active", SubState: "running"}, intp(0), OK, ""},
		{"first seen", modules.UnitHealth{LoadState: "loaded", ActiveState: "active", SubState: "running", NRestarts: 5}, nil, OK, ""},
		{"restarted", modules.UnitHealth{LoadState: "loaded", ActiveState: "active", SubState: "running", NRestarts: 1}, intp(1), Warning, "restarted by systemd 1 time(s)"},
		{"crash loop", modules.UnitHealth{LoadState: "loaded", ActiveState: "activating", SubState: "auto-restart", NRestarts: 9}, intp(3), Critical, "waiting to be restarted after a crash"},
		{"starting", modules.UnitHealth{LoadState: "loaded", ActiveState: "activating", SubState: "start"}, intp(0), Warning, "activating/start"},
		{"failed", modules.UnitHealth{LoadState: "loaded", ActiveState: "failed", SubState: "failed"}, intp(0), Critical, "failed/failed"},
		{"stopped", modules.UnitHealth{LoadState: "loaded", ActiveState: "inactive", SubState: "dead"}, intp(0), Critical, "inactive/dead"},
		{"not found", modules.UnitHealth{LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}, nil, Critical, "is not-found"},
	}
	for _, tc := range tests {
		tc.u.Unit = "app.service"
		row := unitRow("h", &tc.u, tc.since)
		if row.Status != tc.want || !strings.Contains(row.Message, tc.msg) {
			t.Errorf("%s: %v %q, want %v %q", tc.name, row.Status, row.Message, tc.want, tc.msg)
		}
	}
}

func TestRestartsSince(t *testing.T) {
	prev := Restarts{"web1": {"a.service": 3}}
	for _, tc := range []struct {
		host, unit string
		now        int
		want       *int
	}{
		{"web1", "a.service", 3, intp(0)},
		{"web1", "a.service", 5, intp(2)},
		{"web1", "a.service", 1, intp(1)}, // counter started over
		{"web1", "b.service", 1, nil},
		{"web2", "a.service", 1, nil},
	} {
		got := prev.since(tc.host, tc.unit, tc.now)
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s %s %d: %v, want %v", tc.host, tc.unit, tc.now, got, tc.want)
		}
	}
	var none Restarts
	if none.since("web1", "a.service", 2) != nil {
		t.Error("no previous check: want nil")
	}
	path := filepath.Join(t.TempDir(), "sub", "check.json")
	if r, err := LoadRestarts(path); err != nil || len(r) != 0 {
		t.Fatalf("missing file: %v %v", r, err)
	}
	if err := SaveRestarts(path, prev, Restarts{"web2": {"a.service": 1}}); err != nil {
		t.Fatal(err)
	}
	if err := SaveRestarts(path, Restarts{"web1": {"a.service": 3}, "web2": {"a.service": 1}}, Restarts{"web1": {"a.service": 4}}); err != nil {
		t.Fatal(err)
	}
	got, err := LoadRestarts(path)
	if err != nil || got["web1"]["a.service"] != 4 || got["web2"]["a.service"] != 1 {
		t.Fatalf("saved %v %v", got, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode: %v %v", st, err)
	}
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := LoadRestarts(path); err == nil {
		t.Error("garbage state file: no error")
	}
}

// TestPrometheus parses the textfile with Prometheus' own parser, with a
// host and a check whose names need escaping.
func TestPrometheus(t *testing.T) {
	r := sample()
	r.Rows = append(r.Rows, Row{Host: `we"b\4`, Check: "say \"hi\"\nthere", Kind: KindHTTP, Code: 200, Latency: 1500 * time.Millisecond})
	r.Rows = append(r.Rows, Row{Host: `we"b\4`, Check: "unit a\\b.service", Kind: KindUnit, Unit: `a\b.service`, RestartsTotal: intp(7)})
	path := filepath.Join(t.TempDir(), "tend.prom")
	if err := atomicfile.Write(path, Prometheus(r), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("the Prometheus parser refuses the file: %v\n%s", err, Prometheus(r))
	}
	type key struct{ fam, a, b string }
	got := map[key]float64{}
	for name, fam := range fams {
		if fam.GetHelp() == "" {
			t.Errorf("%s: no HELP", name)
		}
		for _, m := range fam.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetValue())
			}
			if len(labels) != 2 {
				t.Fatalf("%s: labels %v", name, labels)
			}
			v := m.GetGauge().GetValue()
			if m.GetCounter() != nil {
				v = m.GetCounter().GetValue()
			}
			got[key{name, labels[0], labels[1]}] = v
		}
	}
	for k, want := range map[key]float64{
		{"tend_health_up", "web1", "health_check.home"}:                1,
		{"tend_health_up", "web2", "health_check.health"}:              0,
		{"tend_health_up", "web2", "unit staffrota.service"}:           0, // a warning is not up
		{"tend_health_up", "web3", "connection"}:                       0,
		{"tend_health_up", `we"b\4`, "say \"hi\"\nthere"}:              1,
		{"tend_health_latency_seconds", `we"b\4`, "say \"hi\"\nthere"}: 1.5,
		{"tend_health_latency_seconds", "web2", "health_check.health"}: 0.0025,
		{"tend_unit_restarts_total", "web2", "staffrota.service"}:      4,
		{"tend_unit_restarts_total", `we"b\4`, `a\b.service`}:          7,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%v = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if fams["tend_unit_restarts_total"].GetType().String() != "COUNTER" || fams["tend_health_up"].GetType().String() != "GAUGE" {
		t.Errorf("types: %v %v", fams["tend_unit_restarts_total"].GetType(), fams["tend_health_up"].GetType())
	}
	if n := len(fams["tend_health_up"].GetMetric()); n != len(r.Rows) {
		t.Errorf("%d tend_health_up series, want one per row (%d)", n, len(r.Rows))
	}
	// The temporary file is gone: only the file itself is in the directory.
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("directory holds %d entries", len(ents))
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Status   string
		ExitCode int `json:"exit_code"`
		Hosts    []struct{ Host, Status string }
		Checks   []map[string]any
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Status != "CRITICAL" || doc.ExitCode != 2 || len(doc.Hosts) != 3 || doc.Hosts[1].Status != "CRITICAL" || doc.Hosts[0].Status != "OK" {
		t.Errorf("%+v", doc)
	}
	c := doc.Checks[7]
	if c["host"] != "web2" || c["http_code"] != 503.0 || c["latency_seconds"] != 0.0025 || c["status"] != "CRITICAL" {
		t.Errorf("check 6: %v", c)
	}
	if u := doc.Checks[6]; u["restarts_since_last_check"] != 1.0 || u["restarts_total"] != 4.0 || u["last_state_change"] != "2026-01-22T15:00:00Z" {
		t.Errorf("unit: %v", u)
	}
}
