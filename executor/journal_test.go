package executor

import (
	"fmt"
	"strings"
	"testing"
)

func TestCondenseJournal(t *testing.T) {
	status := "* app.service - App\n     Active: activating (auto-restart)\n"
	var journal []string
	add := func(msg string) {
		journal = append(journal, fmt.Sprintf("Dec 01 00:01:55 h1 gunicorn[%d]: %s", 100+len(journal), msg))
	}
	// The worker's cause, then a long arbiter traceback, twice (a crash loop).
	for range 2 {
		add("[ERROR] Exception in worker process")
		add("Traceback (most recent call last):")
		add("ModuleNotFoundError: No module named 'no_such_module_tend'")
		for i := range 25 {
			add(fmt.Sprintf("  File \"/usr/lib/python3/dist-packages/gunicorn/arbiter.py\", line %d, in stop", i))
		}
		add("gunicorn.errors.HaltServer: <HaltServer 'Worker failed to boot.' 3>")
	}
	tests := []struct {
		name    string
		raw     string
		want    []string
		notWant []string
	}{
		{
			name: "cause above the tail",
			raw:  status + "@@journal\n" + strings.Join(journal, "\n") + "\n",
			want: []string{"Active: activating (auto-restart)", "errors earlier in the journal (38 lines above the tail):",
				"No module named 'no_such_module_tend'", "journal tail:", "HaltServer"},
		},
		{
			name:    "short journal shown whole",
			raw:     status + "@@journal\n" + strings.Join(journal[:5], "\n") + "\n",
			want:    []string{"No module named", "Exception in worker process"},
			notWant: []string{"errors earlier", "journal tail:"},
		},
		{
			name:    "no marker (an older host script): as read",
			raw:     "app[1]: ImportError\n",
			want:    []string{"app[1]: ImportError"},
			notWant: []string{"journal tail:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := condenseJournal(tt.raw)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in:\n%s", w, got)
				}
			}
			if n := strings.Count(got, "No module named"); n > 2 {
				t.Errorf("the same cause shown %d times:\n%s", n, got)
			}
		})
	}
}
