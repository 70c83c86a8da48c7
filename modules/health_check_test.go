package modules

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tend-sh/tend/executor"
)

// healthServer answers /health/ with the seed's JSON; the first `failFirst`
// requests get a 503 with an error body. /slow/ waits until the client goes
// away (at most 5 s).
type healthServer struct {
	calls     atomic.Int32
	failFirst int32
	lastHost  atomic.Value
}

func (s *healthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.calls.Add(1)
	s.lastHost.Store(r.Host)
	switch r.URL.Path {
	case "/health/":
		w.Header().Set("Content-Type", "application/json")
		if n <= s.failFirst {
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]any{"status": "error", "checks": map[string]any{"database": "error: connection refused"}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"status": "ok", "timestamp": "2026-01-22T15:10:04.448280+00:00",
			"checks": map[string]any{"database": "ok"}, "workers": 2,
		})
	case "/slow/":
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	case "/redirect/":
		http.Redirect(w, r, "/health/", http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

// unixHealthServer serves s on a unix socket in a temporary directory.
func unixHealthServer(t *testing.T, s *healthServer) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "app.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestHealthCheckUnixSocket(t *testing.T) {
	tests := []struct {
		name      string
		attrs     string
		failFirst int32
		wantErr   []string // "" = success
		wantCalls int32
	}{
		{"ok", `path = "/health/"
expect_json = { status = "ok", checks = { database = "ok" }, workers = 2.0 }
expect_body = "database"`, 0, nil, 1},
		{"status mismatch", `path = "/health/"
retries = 0`, 1, []string{"attempt 1", "status 503, want 200", `"status":"error"`}, 1},
		{"json key order", `path = "/health/"
retries = 0
expect_json = { checks = { database = "ok" }, status = "ok" }`, 0, nil, 1},
		{"json nested mismatch", `path = "/health/"
retries = 0
expect_json = { checks = { database = "down" } }`, 0, []string{`$.checks.database: want "down", got "ok"`}, 1},
		{"json missing key", `path = "/health/"
retries = 0
expect_json = { version = "1.2" }`, 0, []string{`$.version: missing, want "1.2"`}, 1},
		{"json number mismatch", `path = "/health/"
retries = 0
expect_json = { workers = 3 }`, 0, []string{`$.workers: want 3, got 2`}, 1},
		{"json type mismatch", `path = "/health/"
retries = 0
expect_json = { checks = "ok" }`, 0, []string{`$.checks: want "ok", got {"database":"ok"}`}, 1},
		{"body mismatch", `path = "/health/"
retries = 0
expect_body = "healthy"`, 0, []string{`body does not contain "healthy"`}, 1},
		{"retries then success", `path = "/health/"
retries = 3
delay = "10ms"
expect_json = { status = "ok" }`, 2, nil, 3},
		{"retries exhausted", `path = "/health/"
retries = 2
delay = "10ms"`, 10, []string{"after 3 attempt(s); attempt 3", "status 503"}, 3},
		{"not found", `path = "/nope/"
retries = 0`, 0, []string{"status 404, want 200"}, 1},
		{"redirect not followed", `path = "/redirect/"
retries = 0
expect_status = 302`, 0, nil, 1},
		{"redirect location", `path = "/redirect/"
retries = 0
expect_status = 302
expect_location = "/health/"`, 0, nil, 1},
		{"redirect location mismatch", `path = "/redirect/"
retries = 0
expect_status = 302
expect_location = "/login/"`, 0, []string{`Location "/health/", want "/login/" (status 302)`}, 1},
		{"header", `path = "/health/"
retries = 0
expect_header = { "content-type" = "application/json" }`, 0, nil, 1},
		{"header missing", `path = "/health/"
retries = 0
expect_location = "/x/"`, 0, []string{`no Location header, want "/x/"`}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &healthServer{failFirst: tc.failFirst}
			sock := unixHealthServer(t, srv)
			m := mustDecode(t, "health_check", "app", "unix_socket = "+quoteHCL(sock)+"\n"+tc.attrs+"\n")
			hc := m.(*HealthCheck)
			tgt := &Target{Conn: executor.NewLocal(executor.LocalOptions{}), State: &executor.State{}}
			d, err := m.Check(context.Background(), tgt)
			if err != nil || !d.Empty() || len(m.Probes()) != 0 {
				t.Fatalf("Check must be empty and probe nothing: %+v, %v", d, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = hc.Verify(ctx, tgt)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			for _, s := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), s) {
					t.Errorf("error %v lacks %q", err, s)
				}
			}
			if got := srv.calls.Load(); got != tc.wantCalls {
				t.Errorf("%d requests, want %d", got, tc.wantCalls)
			}
			if h, _ := srv.lastHost.Load().(string); h != "localhost" {
				t.Errorf("Host header %q, want localhost", h)
			}
			if err != nil && !strings.Contains(err.Error(), "GET unix:"+sock) {
				t.Errorf("error does not name the request: %v", err)
			}
		})
	}
}

func TestHealthCheckURL(t *testing.T) {
	srv := &healthServer{failFirst: 1}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	if !strings.HasPrefix(ts.URL, "http://127.0.0.1:") {
		t.Fatalf("test server not on loopback: %s", ts.URL)
	}
	m := mustDecode(t, "health_check", "app", "url = \""+ts.URL+"/health/\"\ndelay = \"10ms\"\nheaders = { Host = \"demo.therota.co.uk\" }\nexpect_json = { status = \"ok\" }\nmax_response_time = \"2s\"\n")
	hc := m.(*HealthCheck)
	if got, want := hc.Describe(), "GET "+ts.URL+"/health/"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	if err := hc.Verify(context.Background(), &Target{}); err != nil {
		t.Fatal(err)
	}
	if srv.calls.Load() != 2 {
		t.Errorf("%d requests, want 2 (one 503, one ok)", srv.calls.Load())
	}
	if h := srv.lastHost.Load().(string); h != "demo.therota.co.uk" {
		t.Errorf("Host %q", h)
	}
}

// TestHealthCheckTimeoutBounded checks that a hanging endpoint costs at most
// attempts × (timeout + delay), and that ctx bounds everything.
func TestHealthCheckTimeoutBounded(t *testing.T) {
	srv := &healthServer{}
	sock := unixHealthServer(t, srv)
	m := mustDecode(t, "health_check", "app", "unix_socket = "+quoteHCL(sock)+"\npath = \"/slow/\"\ntimeout = \"100ms\"\nretries = 1\ndelay = \"10ms\"\n")
	tgt := &Target{Conn: executor.NewLocal(executor.LocalOptions{})}
	start := time.Now()
	err := m.(*HealthCheck).Verify(context.Background(), tgt)
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "no answer within timeout 100ms") || !strings.Contains(err.Error(), "attempt 2") {
		t.Fatalf("error: %v", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("took %s, want about 210ms", elapsed)
	}
	if srv.calls.Load() != 2 {
		t.Errorf("%d requests, want 2", srv.calls.Load())
	}

	// A context shorter than the retries stops the loop.
	m = mustDecode(t, "health_check", "app", "unix_socket = "+quoteHCL(sock)+"\npath = \"/slow/\"\ntimeout = \"5s\"\nretries = 50\ndelay = \"1s\"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	err = m.(*HealthCheck).Verify(ctx, tgt)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("ctx did not bound Verify: %v after %s", err, time.Since(start))
	}
}

func TestHealthCheckMaxResponseTime(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(60 * time.Millisecond)
		w.Write([]byte("ok"))
	})
	ts := httptest.NewServer(slow)
	defer ts.Close()
	m := mustDecode(t, "health_check", "app", "url = \""+ts.URL+"/\"\nretries = 0\nmax_response_time = \"20ms\"\n")
	err := m.(*HealthCheck).Verify(context.Background(), &Target{})
	if err == nil || !strings.Contains(err.Error(), "over max_response_time 20ms") {
		t.Fatalf("error: %v", err)
	}
}

func TestHealthCheckDescribeSocket(t *testing.T) {
	m := mustDecode(t, "health_check", "staffrota", "unix_socket = \"/home/staff-rota-system/staffrota.sock\"\npath = \"/health/\"\n")
	if got, want := m.(*HealthCheck).Describe(), "GET unix:/home/staff-rota-system/staffrota.sock /health/"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
}

func TestJSONSubset(t *testing.T) {
	dec := func(s string) any {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		want, got, err string
	}{
		{`{"a":1}`, `{"a":1.0,"b":2}`, ""},
		{`{"a":[1,{"b":true}]}`, `{"a":[1,{"b":true,"c":0}]}`, ""},
		{`{"a":[1,2]}`, `{"a":[1]}`, "$.a: want [1,2], got [1]"},
		{`{"a":[1,{"b":true}]}`, `{"a":[1,{"b":false}]}`, "$.a[1].b: want true, got false"},
		{`{"a":null}`, `{"a":0}`, "$.a: want null, got 0"},
		{`{"a":{}}`, `{"a":[]}`, "$.a: want an object, got []"},
	}
	for _, tc := range tests {
		err := jsonSubset(dec(tc.want), dec(tc.got), "$")
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err) {
			t.Errorf("jsonSubset(%s, %s) = %v, want %q", tc.want, tc.got, err, tc.err)
		}
	}
}
