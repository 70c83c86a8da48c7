package modules

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor"
)

func TestUnitHealthFactParse(t *testing.T) {
	f := UnitHealthFact{Unit: "staffrota.service"}
	tests := []struct {
		name string
		out  string
		code int
		want UnitHealth
		err  string
	}{
		{"running", "LoadState=loaded\nActiveState=active\nSubState=running\nNRestarts=2\nStateChangeTimestamp=@1764570600\nActiveEnterTimestamp=@1764570600\nControlGroup=/system.slice/staffrota.service\nProcesses=3\n", 0,
			UnitHealth{Unit: "staffrota.service", LoadState: "loaded", ActiveState: "active", SubState: "running", NRestarts: 2,
				StateChange: time.Unix(1764570600, 0).UTC(), ActiveEnter: time.Unix(1764570600, 0).UTC(), ControlGroup: "/system.slice/staffrota.service", Processes: 3}, ""},
		{"old systemd", "LoadState=loaded\nActiveState=activating\nSubState=auto-restart\nNRestarts=7\nStateChangeTimestamp=Tue 2026-12-01 06:30:00 UTC\nActiveEnterTimestamp=\nControlGroup=\n", 0,
			UnitHealth{Unit: "staffrota.service", LoadState: "loaded", ActiveState: "activating", SubState: "auto-restart", NRestarts: 7,
				StateChange: time.Date(2026, 12, 1, 6, 30, 0, 0, time.UTC), Processes: -1}, ""},
		{"not found", "LoadState=not-found\nActiveState=inactive\nSubState=dead\nNRestarts=\nStateChangeTimestamp=\nActiveEnterTimestamp=\nControlGroup=\n", 0,
			UnitHealth{Unit: "staffrota.service", LoadState: "not-found", ActiveState: "inactive", SubState: "dead", Processes: -1}, ""},
		{"garbage", "hello\n", 0, UnitHealth{}, "malformed line"},
		{"bad count", "LoadState=loaded\nActiveState=active\nProcesses=many\n", 0, UnitHealth{}, "Processes=many"},
		{"empty", "", 0, UnitHealth{}, "no LoadState"},
		{"failed", "", 3, UnitHealth{}, "exit status 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := f.Parse([]byte(tc.out), tc.code)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := *v.(*UnitHealth)
			if !got.StateChange.Equal(tc.want.StateChange) || !got.ActiveEnter.Equal(tc.want.ActiveEnter) {
				t.Errorf("times %v %v, want %v %v", got.StateChange, got.ActiveEnter, tc.want.StateChange, tc.want.ActiveEnter)
			}
			got.StateChange, got.ActiveEnter, tc.want.StateChange, tc.want.ActiveEnter = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestHealthCheckOnce: tend check's single attempt reports the status
// code and the latency, also of a failed check, and never retries.
func TestHealthCheckOnce(t *testing.T) {
	srv := &healthServer{failFirst: 1}
	sock := unixHealthServer(t, srv)
	m := mustDecode(t, "health_check", "app", "unix_socket = "+quoteHCL(sock)+"\npath = \"/health/\"\nretries = 5\nseverity = \"warning\"\n").(*HealthCheck)
	tgt := &Target{Conn: executor.NewLocal(executor.LocalOptions{}), State: &executor.State{}}
	res := m.Once(context.Background(), tgt)
	if res.Code != 503 || res.Err == nil || !strings.Contains(res.Err.Error(), "status 503, want 200") || res.Latency <= 0 || res.Processes != -1 {
		t.Errorf("first: %+v", res)
	}
	if n := srv.calls.Load(); n != 1 {
		t.Errorf("%d requests, want 1 (no retries)", n)
	}
	if res := m.Once(context.Background(), tgt); res.Code != 200 || res.Err != nil {
		t.Errorf("second: %+v", res)
	}
	if m.Severity() != "warning" {
		t.Errorf("severity %q", m.Severity())
	}
}
