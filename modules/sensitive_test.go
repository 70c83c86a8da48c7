package modules

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/tend-sh/tend/executor"
)

func sensitiveCtx(secret string) *hcl.EvalContext {
	return &hcl.EvalContext{Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{"secret": cty.StringVal(secret).Mark("sensitive")}),
	}}
}

// A sensitive value anywhere in a gunicorn_service makes its unit's content
// sensitive: the diff carries no readable content.
func TestGunicornSensitiveEnvironmentHidden(t *testing.T) {
	m, diags := decodeModule(t, "gunicorn_service", "app", `
gunicorn = "/srv/venv/bin/gunicorn"
app = "app.wsgi:application"
bind = "127.0.0.1:8000"
environment = { TOKEN = var.secret }
`, sensitiveCtx("hunter2"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	st := &executor.State{
		Facts:  executor.Facts{Systemd: true, CPUs: 2},
		Files:  map[string]*executor.FileState{"/etc/systemd/system/app.service": {Path: "/etc/systemd/system/app.service"}},
		Units:  map[string]*executor.UnitState{"app.service": {Name: "app.service", LoadState: "not-found"}},
		Guards: map[string]int{},
	}
	d, err := m.Check(context.Background(), &Target{State: st})
	if err != nil {
		t.Fatal(err)
	}
	c := d.Change("content")
	if c == nil || !c.Sensitive {
		t.Fatalf("content change must be sensitive: %+v", c)
	}
	if bytes.Contains(c.OldContent, []byte("hunter2")) || strings.Contains(c.Old+c.New, "hunter2") {
		t.Errorf("sensitive value visible in the diff: %+v", c)
	}
}

// A health check whose URL holds a sensitive value never prints the URL:
// not in Describe, not in its errors.
func TestHealthCheckSensitiveURLHidden(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	m, diags := decodeModule(t, "health_check", "h", `
url     = "`+srv.URL+`/health?token=${var.secret}"
retries = 0
`, sensitiveCtx("TOPSECRET-123"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	hc := m.(*HealthCheck)
	if strings.Contains(hc.Describe(), "TOPSECRET") {
		t.Errorf("Describe leaks: %s", hc.Describe())
	}
	err := hc.Verify(context.Background(), &Target{})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("want a 503 failure, got %v", err)
	}
	if strings.Contains(err.Error(), "TOPSECRET") {
		t.Errorf("error leaks: %v", err)
	}
	// A refused connection: net/http quotes the URL in its error.
	srv.Close()
	err = hc.Verify(context.Background(), &Target{})
	if err == nil || strings.Contains(err.Error(), "TOPSECRET") {
		t.Errorf("error leaks or is nil: %v", err)
	}
}

// A health check's sensitive header and expected body are never printed,
// nor is a sensitive URL that Decode refuses.
func TestHealthCheckSensitiveSettingsHidden(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("auth=" + r.Header.Get("Authorization")))
	}))
	defer srv.Close()
	m, diags := decodeModule(t, "health_check", "h", `
url         = "`+srv.URL+`/health"
headers     = { Authorization = "Bearer ${var.secret}" }
expect_body = "ready ${var.secret}"
retries     = 0
`, sensitiveCtx("TOPSECRET-456"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	err := m.(*HealthCheck).Verify(context.Background(), &Target{})
	if err == nil || !strings.Contains(err.Error(), "body does not contain") {
		t.Fatalf("want a body mismatch, got %v", err)
	}
	if strings.Contains(err.Error(), "TOPSECRET") {
		t.Errorf("error leaks: %v", err)
	}

	m, diags = decodeModule(t, "health_check", "h", `
url         = "`+srv.URL+`/health"
expect_json = { token = var.secret }
retries     = 0
`, sensitiveCtx("TOPSECRET-789"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	err = m.(*HealthCheck).Verify(context.Background(), &Target{})
	if err == nil || strings.Contains(err.Error(), "TOPSECRET") {
		t.Errorf("error leaks or is nil: %v", err)
	}

	for _, src := range []string{
		"url = \"ftp://${var.secret}/\"\n",
		"unix_socket = \"run/${var.secret}.sock\"\n",
		"unix_socket = \"/run/a.sock\"\npath = \"health/${var.secret}\"\n",
		"url = \"http://x/\"\nheaders = { \"X-Token\" = \"a\\n${var.secret}\" }\n",
	} {
		_, diags := decodeModule(t, "health_check", "h", src, sensitiveCtx("TOPSECRET-000"))
		if !diags.HasErrors() {
			t.Errorf("%q: no error", src)
		}
		if strings.Contains(diags.Error(), "TOPSECRET") {
			t.Errorf("%q: a diagnostic leaks: %v", src, diags)
		}
	}
}
