package run

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tend-sh/tend/executor"
)

// revertPlaybook changes an existing file and creates one, then fails on
// the hosts named in fail (after a health check at url, when not empty).
func revertPlaybook(url, fail string) string {
	check := ""
	if url != "" {
		check = fmt.Sprintf("  health_check \"up\" { url = \"%s/${host.name}\" }\n", url)
	}
	return `
play "p" {
  hosts = ["all"]
  file "conf" {
    path    = "${host.vars.dir}/app.conf"
    content = "new\n"
    mode    = "0600"
  }
  file "extra" {
    path    = "${host.vars.dir}/extra.conf"
    content = "extra\n"
  }
  command "mark" {
    run  = "touch ${host.vars.dir}/marker"
    undo = "rm -f ${host.vars.dir}/marker"
  }
  command "migrate" {
    run = "case ' ` + fail + ` ' in *' ${host.name} '*) echo broken >&2; exit 1;; esac"
  }
` + check + `}
`
}

func TestRevert(t *testing.T) {
	// Each host asks its own path; with a budget, host a's path is healthy
	// for that many requests (its baseline) and unhealthy after.
	var healthy atomic.Bool
	var budget atomic.Int64
	var mu sync.Mutex
	asked := map[string]int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked[r.URL.Path]++
		n := asked[r.URL.Path]
		mu.Unlock()
		if !healthy.Load() || (r.URL.Path == "/a" && budget.Load() > 0 && n > budget.Load()) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	tests := []struct {
		name     string
		url      string
		healthy  bool
		noRevert bool
		budget   int64
		// want: the outcome of host a (b never fails).
		reverted    bool
		revertError string
	}{
		{name: "a failed host is put back", reverted: true},
		{name: "put back and healthy again", url: srv.URL, healthy: true, reverted: true},
		{name: "--no-revert leaves it", noRevert: true},
		{name: "still unhealthy after the revert: REVERT FAILED", url: srv.URL, healthy: true, budget: 1, revertError: "after the revert, health_check.up still fails"},
		{name: "unhealthy before the change: not put back", url: srv.URL, healthy: false, revertError: "not reverted: the host was not healthy before this run changed it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			healthy.Store(tt.healthy)
			budget.Store(tt.budget)
			mu.Lock()
			clear(asked)
			mu.Unlock()
			dir := t.TempDir()
			r, _ := setupIn(t, dir, []string{"a", "b"}, revertPlaybook(tt.url, "a"), ModeApply)
			r.opts.Rollout = RolloutFlags{NoRevert: tt.noRevert}
			r.policy, _ = rolloutPolicy(r.opts, nil)
			for _, h := range []string{"a", "b"} {
				if err := os.WriteFile(filepath.Join(dir, h, "app.conf"), []byte("old\n"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			res := r.Execute(context.Background())
			a, b := res.Recaps[0], res.Recaps[1]
			if a.Failed == 0 || a.Reverted != tt.reverted || !strings.HasPrefix(a.RevertError, tt.revertError) || (tt.revertError == "" && a.RevertError != "") {
				t.Fatalf("a: %+v", a)
			}
			if (b.Failed != 0) != (tt.url != "" && !tt.healthy) || b.Reverted {
				t.Errorf("b: %+v", b)
			}
			conf, _ := os.ReadFile(filepath.Join(dir, "a", "app.conf"))
			fi, _ := os.Stat(filepath.Join(dir, "a", "app.conf"))
			_, extraErr := os.Stat(filepath.Join(dir, "a", "extra.conf"))
			_, markerErr := os.Stat(filepath.Join(dir, "a", "marker"))
			if (tt.reverted || tt.budget > 0) == (markerErr == nil) {
				t.Errorf("a's marker (undo on revert): %v", markerErr)
			}
			if tt.reverted || tt.budget > 0 {
				if string(conf) != "old\n" || fi.Mode().Perm() != 0o640 || !os.IsNotExist(extraErr) {
					t.Errorf("a not put back: %q %v, extra: %v", conf, fi.Mode(), extraErr)
				}
			} else if string(conf) != "new\n" || extraErr != nil {
				t.Errorf("a changed back without a revert: %q, extra: %v", conf, extraErr)
			}
			if conf, _ := os.ReadFile(filepath.Join(dir, "b", "app.conf")); string(conf) != "new\n" {
				t.Errorf("b = %q", conf)
			}
		})
	}
}

func TestRevertEffects(t *testing.T) {
	e := func(k executor.EffectKind, u string) executor.Effect { return executor.Effect{Kind: k, Unit: u} }
	tests := []struct {
		name      string
		effects   []executor.Effect
		created   map[string]bool
		pre, post string
	}{
		{
			name:    "a restarted unit is restarted after its file comes back",
			effects: []executor.Effect{e(executor.EffectDaemonReload, ""), e(executor.EffectRestart, "app.service")},
			pre:     "[]",
			post:    "[reset-failed app.service restart app.service]",
		},
		{
			name:    "a new unit is stopped and disabled before its file goes",
			effects: []executor.Effect{e(executor.EffectDaemonReload, ""), e(executor.EffectEnable, "new.service"), e(executor.EffectRestart, "new.service")},
			created: map[string]bool{"new.service": true},
			pre:     "[disable new.service stop new.service]",
			post:    "[]",
		},
		{
			name:    "a started unit is stopped, a stopped one started, each once",
			effects: []executor.Effect{e(executor.EffectStart, "a.service"), e(executor.EffectStop, "b.service"), e(executor.EffectStart, "a.service")},
			pre:     "[stop a.service]",
			post:    "[reset-failed b.service restart b.service]",
		},
		{
			name:    "the first action tells what the unit was: stopped then started ran before",
			effects: []executor.Effect{e(executor.EffectStop, "a.service"), e(executor.EffectStart, "a.service"), e(executor.EffectEnable, "a.service"), e(executor.EffectDisable, "a.service")},
			pre:     "[disable a.service]",
			post:    "[reset-failed a.service restart a.service]",
		},
		{
			name:    "enable and disable swap",
			effects: []executor.Effect{e(executor.EffectEnable, "a.service"), e(executor.EffectDisable, "b.service")},
			pre:     "[disable a.service]",
			post:    "[enable b.service]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pre, post := revertEffects(tt.effects, tt.created)
			if got := fmt.Sprint(pre); got != tt.pre {
				t.Errorf("pre = %s, want %s", got, tt.pre)
			}
			if got := fmt.Sprint(post); got != tt.post {
				t.Errorf("post = %s, want %s", got, tt.post)
			}
		})
	}
}
