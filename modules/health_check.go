package modules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/tend-sh/tend/executor"
)

func init() {
	Register(Info{
		Kind:    "health_check",
		Summary: "An HTTP check (URL from the controller, or a unix socket on the host) or a unit's process count, run after changes and by tend check: status, Location and headers, JSON subset, body, response time",
		New:     func() Module { return &HealthCheck{} },
		Config:  func() any { return &healthCheckConfig{} },
		Doc: `Checks an HTTP endpoint after the changes of the run: the URL is requested from the controller, or a unix socket on the host is dialled through the connection (SSH direct-streamlocal). It never changes anything and never counts as a change: plan shows nothing for it, and apply runs it once the changes were made and the notified handlers ran. The request is tried up to retries + 1 times, delay apart, each attempt bounded by timeout; if no attempt answers as expected, the host fails, and the error says what was expected, what came back and on which attempt. Redirects are not followed: a 302 is checked as such, with its Location (expect_location).

With unit instead of a URL or socket, the check counts the processes in the unit's control group (systemctl show -p ControlGroup, then its cgroup.procs; read-only) and wants expect_processes of them, e.g. 3 for a gunicorn master and 2 workers.

tend check runs the same checks, once each (no retries), and reports their severity: a failed check with severity = "warning" makes the host WARNING, otherwise CRITICAL.

The URL, socket, path, headers and the expected body may come from sensitive values (a token in a query, an Authorization header): they are then never printed.`,
		Example: `health_check "app" {
  unix_socket       = "/run/app/gunicorn.sock"
  path              = "/health/"
  headers           = { Host = "app.example.com" }
  expect_json       = { status = "ok" }
  max_response_time = "500ms"
}
`,
	})
}

var (
	_ Module   = (*HealthCheck)(nil)
	_ Verifier = (*HealthCheck)(nil)
)

// HealthCheck verifies an HTTP endpoint after apply (its registry entry and
// the tags of healthCheckConfig document it). It never changes anything:
// Check always returns an empty diff (so plan stays "in sync"), and the work
// happens in Verify.
type HealthCheck struct {
	// sensitive is set when any setting carried a sensitive value: the URL
	// (a token in a query, say) is then never printed, nor are secrets, the
	// values of the settings that carried one, in errors.
	sensitive bool
	secrets   []string
	// jsonSensitive hides the expected JSON values in errors.
	jsonSensitive bool
	url           string
	socket        string
	path          string
	method        string
	headers       map[string]string
	expectStatus  int
	expectJSON    any
	hasJSON       bool
	expectBody    string
	maxTime       time.Duration
	timeout       time.Duration
	retries       int
	delay         time.Duration
	// expectHeaders are response headers that must have these values;
	// expect_location is one of them ("Location").
	expectHeaders map[string]string
	// unit, with expectProcs, makes the check count the processes of a
	// systemd unit instead of making a request.
	unit        string
	expectProcs int
	severity    string
}

type healthCheckConfig struct {
	URL             *string   `hcl:"url,optional" sensitive:"ok" doc:"An http:// or https:// URL, requested from the controller. Give url, or unix_socket."`
	UnixSocket      *string   `hcl:"unix_socket,optional" sensitive:"ok" doc:"The absolute path of a unix socket on the host, dialled through the connection."`
	Path            *string   `hcl:"path,optional" sensitive:"ok" doc:"The request path with unix_socket, such as \"/health/\"; \"/\" when not set. With url, the path goes in the URL."`
	Method          *string   `hcl:"method,optional" default:"GET" doc:"The HTTP method, such as \"GET\" or \"HEAD\"."`
	Headers         cty.Value `hcl:"headers,optional" sensitive:"ok" type:"map of string" doc:"Request headers, such as { Host = \"app.example.com\" }."`
	ExpectStatus    *int      `hcl:"expect_status,optional" default:"200" doc:"The status code the answer must have."`
	ExpectJSON      cty.Value `hcl:"expect_json,optional" sensitive:"ok" type:"object" doc:"An object the JSON answer must contain: every key present and equal, recursively (other keys are fine); lists must match element by element."`
	ExpectBody      *string   `hcl:"expect_body,optional" sensitive:"ok" doc:"A string the body must contain."`
	MaxResponseTime *string   `hcl:"max_response_time,optional" doc:"The longest an answer may take, as a duration such as \"500ms\"; a slower answer fails the attempt."`
	Timeout         *string   `hcl:"timeout,optional" default:"5s" doc:"How long one attempt may take, as a duration."`
	Retries         *int      `hcl:"retries,optional" default:"2" min:"0" max:"100" doc:"The attempts after the first one fails."`
	Delay           *string   `hcl:"delay,optional" default:"1s" doc:"The wait between attempts, as a duration."`
	ExpectLocation  *string   `hcl:"expect_location,optional" doc:"The Location header the answer must have, such as \"/login/?next=/dashboard/\" with expect_status = 302 (redirects are never followed)."`
	ExpectHeader    cty.Value `hcl:"expect_header,optional" type:"map of string" doc:"Response headers the answer must have, with these exact values, such as { \"Cache-Control\" = \"no-store\" }."`
	Unit            *string   `hcl:"unit,optional" doc:"A systemd unit, such as \"staffrota.service\": the check counts the processes in its control group instead of making a request. Give url, unix_socket or unit."`
	ExpectProcesses *int      `hcl:"expect_processes,optional" min:"1" max:"100000" doc:"With unit: how many processes its control group must hold, such as 3 for a gunicorn master and 2 workers."`
	Severity        *string   `hcl:"severity,optional" enum:"warning,critical" default:"critical" doc:"What a failure of this check makes the host in tend check: \"warning\" (exit 1) or \"critical\" (exit 2)."`
}

var (
	methodRe = regexp.MustCompile(`^[A-Z]+$`)
	tokenRe  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// maxHealthBody bounds how much of a response is read.
const maxHealthBody = 1 << 20

// Decode reads and validates the health check.
func (m *HealthCheck) Decode(label string, body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	var cfg healthCheckConfig
	dec, diags, ok := decodeConfig(body, ctx, &cfg)
	if !ok {
		return diags
	}
	m.sensitive = len(dec.marked) > 0
	m.jsonSensitive = dec.marked["expect_json"]
	bad := func(attr, summary, detail string) {
		diags = append(diags, errAt(body, attr, summary, detail))
	}
	// A value that carried a sensitive mark is never quoted, here or in
	// Verify's errors.
	secret := func(attr string, v *string) string {
		if v == nil {
			return ""
		}
		if dec.marked[attr] {
			m.secrets = append(m.secrets, *v)
			return "(sensitive)"
		}
		return strconv.Quote(*v)
	}
	// An unknown url, unix_socket or path (validation for no particular
	// host) counts as given, and its value is checked no further.
	urlGiven := dec.given("url", cfg.URL != nil)
	socketGiven := dec.given("unix_socket", cfg.UnixSocket != nil)
	unitGiven := dec.given("unit", cfg.Unit != nil)
	m.severity = "critical"
	if cfg.Severity != nil {
		m.severity = *cfg.Severity
	}
	if unitGiven && (urlGiven || socketGiven) {
		bad("unit", "Conflicting targets", "Give one of url, unix_socket and unit: a process count makes no request.")
		return diags
	}
	if unitGiven {
		m.decodeUnit(cfg, dec, bad)
		return diags
	}
	if dec.given("expect_processes", cfg.ExpectProcesses != nil) {
		bad("expect_processes", "expect_processes without unit", "expect_processes counts the processes of a unit: give unit too.")
	}
	switch {
	case urlGiven && socketGiven:
		bad("unix_socket", "Conflicting targets", "Give either url or unix_socket, not both.")
	case urlGiven:
		if cfg.URL != nil {
			m.url = *cfg.URL
			u, err := url.Parse(m.url)
			if shown := secret("url", cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("url", "Invalid url", fmt.Sprintf("%s is not an http:// or https:// URL with a host.", shown))
			}
		}
		if dec.given("path", cfg.Path != nil) {
			bad("path", "path with url", "With url, write the path in the URL; path goes with unix_socket.")
		}
	case socketGiven:
		if cfg.UnixSocket != nil {
			p, err := cleanAbsPath(*cfg.UnixSocket)
			if shown := secret("unix_socket", cfg.UnixSocket); err != nil {
				bad("unix_socket", "Invalid unix_socket", strings.ReplaceAll(err.Error(), strconv.Quote(*cfg.UnixSocket), shown))
			}
			m.socket = p
		}
		m.path = "/"
		if cfg.Path != nil {
			m.path = *cfg.Path
			u, err := url.Parse(m.path)
			if shown := secret("path", cfg.Path); err != nil || !strings.HasPrefix(m.path, "/") || u.Host != "" {
				bad("path", "Invalid path", fmt.Sprintf("%s is not an HTTP request path such as \"/health/\".", shown))
			}
		}
	default:
		bad("", "Missing target", "A health_check needs url, unix_socket and path, or unit and expect_processes.")
	}
	m.method = deref(cfg.Method)
	if cfg.Method != nil && !methodRe.MatchString(m.method) {
		bad("method", "Invalid method", fmt.Sprintf("%q is not an HTTP method such as \"GET\" or \"HEAD\".", m.method))
	}
	headers, err := stringMap(cfg.Headers)
	if err != nil {
		bad("headers", "Invalid headers", err.Error())
	}
	for k, v := range headers {
		if shown := secret("headers", &v); !tokenRe.MatchString(k) || strings.ContainsAny(v, "\r\n\x00") {
			bad("headers", "Invalid headers", fmt.Sprintf("%q: %s is not a valid header.", k, shown))
		}
	}
	m.headers = headers
	if cfg.ExpectStatus != nil {
		if m.expectStatus = *cfg.ExpectStatus; m.expectStatus < 100 || m.expectStatus > 599 {
			bad("expect_status", "Invalid expect_status", fmt.Sprintf("%d is not an HTTP status code.", m.expectStatus))
		}
	}
	if isSet(cfg.ExpectJSON) {
		v := cfg.ExpectJSON
		if !v.IsWhollyKnown() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
			bad("expect_json", "Invalid expect_json", "expect_json must be an object, such as { status = \"ok\" }.")
		} else if want, err := ctyToJSON(v); err != nil {
			bad("expect_json", "Invalid expect_json", err.Error())
		} else {
			m.expectJSON, m.hasJSON = want, true
		}
	}
	secret("expect_body", cfg.ExpectBody)
	m.expectBody = deref(cfg.ExpectBody)
	for _, a := range []struct {
		name string
		val  *string
		dst  *time.Duration
	}{{"max_response_time", cfg.MaxResponseTime, &m.maxTime}, {"timeout", cfg.Timeout, &m.timeout}, {"delay", cfg.Delay, &m.delay}} {
		if a.val != nil {
			d, err := parseDuration(*a.val)
			if err != nil {
				bad(a.name, "Invalid "+a.name, err.Error())
			}
			*a.dst = d
		}
	}
	if cfg.Retries != nil {
		m.retries = *cfg.Retries
	}
	want, err := stringMap(cfg.ExpectHeader)
	if err != nil {
		bad("expect_header", "Invalid expect_header", err.Error())
	}
	for k, v := range want {
		if !tokenRe.MatchString(k) || strings.ContainsAny(v, "\r\n\x00") {
			bad("expect_header", "Invalid expect_header", fmt.Sprintf("%q: %q is not a valid header.", k, v))
		}
	}
	if cfg.ExpectLocation != nil {
		if want == nil {
			want = map[string]string{}
		}
		for k := range want {
			if strings.EqualFold(k, "Location") {
				bad("expect_location", "Location given twice", "Give the Location in expect_location only, not also in expect_header.")
			}
		}
		want["Location"] = *cfg.ExpectLocation
	}
	m.expectHeaders = want
	return diags
}

// decodeUnit reads a process-count check: unit and expect_processes, and
// the attributes that go with any check; request attributes are refused.
func (m *HealthCheck) decodeUnit(cfg healthCheckConfig, dec decoded, bad func(attr, summary, detail string)) {
	if cfg.Unit != nil {
		u, err := unitName(*cfg.Unit)
		if err != nil {
			bad("unit", "Invalid unit", err.Error())
		}
		m.unit = u
	}
	if !dec.given("expect_processes", cfg.ExpectProcesses != nil) {
		bad("unit", "Missing expect_processes", "A health_check of a unit counts its processes: give expect_processes, such as 3 for a gunicorn master and 2 workers.")
	} else if cfg.ExpectProcesses != nil {
		m.expectProcs = *cfg.ExpectProcesses
	}
	for _, attr := range []struct {
		name string
		set  bool
	}{
		{"path", cfg.Path != nil}, {"headers", isSet(cfg.Headers)}, {"expect_json", isSet(cfg.ExpectJSON)},
		{"expect_body", cfg.ExpectBody != nil}, {"expect_location", cfg.ExpectLocation != nil},
		{"expect_header", isSet(cfg.ExpectHeader)}, {"max_response_time", cfg.MaxResponseTime != nil},
	} {
		if dec.given(attr.name, attr.set) {
			bad(attr.name, "Invalid "+attr.name+" with unit", attr.name+" belongs to an HTTP check (url or unix_socket); a check of unit counts processes.")
		}
	}
	m.method = "GET"
	m.timeout, m.delay, m.retries = 5*time.Second, time.Second, 2
	for _, a := range []struct {
		name string
		val  *string
		dst  *time.Duration
	}{{"timeout", cfg.Timeout, &m.timeout}, {"delay", cfg.Delay, &m.delay}} {
		if a.val != nil {
			d, err := parseDuration(*a.val)
			if err != nil {
				bad(a.name, "Invalid "+a.name, err.Error())
			}
			*a.dst = d
		}
	}
	if cfg.Retries != nil {
		m.retries = *cfg.Retries
	}
}

// ctyToJSON converts a cty value to the generic JSON form (json.Number for
// numbers).
func ctyToJSON(v cty.Value) (any, error) {
	raw, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	err = dec.Decode(&out)
	return out, err
}

// Describe names the request, for output: "GET unix:/run/app.sock /health/"
// or "GET https://example.com/health/".
func (m *HealthCheck) Describe() string {
	if m.unit != "" {
		return fmt.Sprintf("processes of %s (want %d)", m.unit, m.expectProcs)
	}
	if m.sensitive {
		if m.socket != "" {
			return m.method + " unix:(sensitive)"
		}
		if u, err := url.Parse(m.url); err == nil {
			return m.method + " " + u.Scheme + "://" + u.Host + "/(sensitive)"
		}
		return m.method + " (sensitive)"
	}
	if m.socket != "" {
		return m.method + " unix:" + m.socket + " " + m.path
	}
	return m.method + " " + m.url
}

// Probes needs nothing: the check runs in Verify.
func (m *HealthCheck) Probes() []executor.Probe { return nil }

// Check never reports a change.
func (m *HealthCheck) Check(ctx context.Context, t *Target) (*Diff, error) { return &Diff{}, nil }

// Apply has nothing to do.
func (m *HealthCheck) Apply(ctx context.Context, t *Target, d *Diff) error { return nil }

// Verify requests the endpoint until it answers as expected, at most
// retries+1 times, delay apart, each attempt bounded by timeout and all of
// them by ctx. The error says what was expected, what came back, and on
// which attempt.
func (m *HealthCheck) Verify(ctx context.Context, t *Target) error {
	return m.redact(m.verify(ctx, t))
}

func (m *HealthCheck) verify(ctx context.Context, t *Target) error {
	attempts := m.retries + 1
	var last error
	for i := 1; i <= attempts; i++ {
		if i > 1 {
			timer := time.NewTimer(m.delay)
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("health check %s: stopped before attempt %d of %d (%w); attempt %d: %v", m.Describe(), i, attempts, ctx.Err(), i-1, last)
			case <-timer.C:
			}
		}
		err := m.attempt(ctx, t).Err
		if err == nil {
			return nil
		}
		last = err
		if ctx.Err() != nil {
			return fmt.Errorf("health check %s: attempt %d of %d: %w", m.Describe(), i, attempts, err)
		}
	}
	return fmt.Errorf("health check %s failed after %d attempt(s); attempt %d: %w", m.Describe(), attempts, attempts, last)
}

// HealthResult is what one attempt of a health check saw.
type HealthResult struct {
	// Code is the HTTP status of the answer; 0 when none came (or for a
	// check of a unit).
	Code int
	// Latency is how long the answer took; 0 when none came.
	Latency time.Duration
	// Processes is how many processes the unit's control group held (a
	// check of a unit); -1 otherwise.
	Processes int
	// Err says why the check failed; nil when it passed.
	Err error
}

// Once makes one attempt of the check (no retries: tend check's monitor
// runs again on its own schedule) and reports what it saw. Errors never
// carry the sensitive settings.
func (m *HealthCheck) Once(ctx context.Context, t *Target) HealthResult {
	res := m.attempt(ctx, t)
	if res.Err != nil {
		res.Err = m.redact(res.Err)
	}
	return res
}

// Severity is what a failure of the check makes the host in tend check:
// "warning" or "critical".
func (m *HealthCheck) Severity() string {
	if m.severity == "" {
		return "critical"
	}
	return m.severity
}

// CountsProcesses reports whether the check counts a unit's processes
// (unit) rather than making a request.
func (m *HealthCheck) CountsProcesses() bool { return m.unit != "" }

// redact takes the sensitive settings out of an error (net/http quotes the
// URL in its errors).
func (m *HealthCheck) redact(err error) error {
	if err == nil || len(m.secrets) == 0 {
		return err
	}
	msg := err.Error()
	for _, secret := range m.secrets {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "(sensitive)")
		}
	}
	return errors.New(msg)
}

// attempt makes one request, or counts the unit's processes, and checks
// the answer.
func (m *HealthCheck) attempt(ctx context.Context, t *Target) HealthResult {
	if m.unit != "" {
		return m.countProcesses(ctx, t)
	}
	res := HealthResult{Processes: -1}
	res.Code, res.Latency, res.Err = m.request(ctx, t)
	return res
}

// countProcesses reads the unit's state and counts its processes.
func (m *HealthCheck) countProcesses(ctx context.Context, t *Target) HealthResult {
	res := HealthResult{Processes: -1}
	actx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	f := UnitHealthFact{Unit: m.unit}
	st, err := executor.Gather(actx, t.Conn, executor.Request{Probes: []executor.Probe{{Kind: executor.ProbeFact, Fact: f}}})
	if err != nil {
		res.Err = fmt.Errorf("reading %s: %w", m.unit, err)
		return res
	}
	v, ok := st.Fact(f)
	u, _ := v.(*UnitHealth)
	if !ok || u == nil {
		res.Err = fmt.Errorf("reading %s: no answer", m.unit)
		return res
	}
	res.Processes = u.Processes
	switch {
	case u.LoadState != "loaded":
		res.Err = fmt.Errorf("%s is %s, want %d processes", m.unit, u.LoadState, m.expectProcs)
	case u.Processes < 0:
		res.Err = fmt.Errorf("%s runs no process (%s/%s), want %d", m.unit, u.ActiveState, u.SubState, m.expectProcs)
	case u.Processes != m.expectProcs:
		res.Err = fmt.Errorf("%s runs %d processes, want %d (%s/%s)", m.unit, u.Processes, m.expectProcs, u.ActiveState, u.SubState)
	}
	return res
}

// request makes one request and checks the answer: its status code, how
// long it took, and an error when it is not as expected.
func (m *HealthCheck) request(ctx context.Context, t *Target) (int, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	tr := &http.Transport{DisableKeepAlives: true, Proxy: http.ProxyFromEnvironment}
	target := m.url
	if m.socket != "" {
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return t.Conn.DialUnix(ctx, m.socket)
		}
		target = "http://localhost" + m.path
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	req, err := http.NewRequestWithContext(actx, m.method, target, nil)
	if err != nil {
		return 0, 0, err
	}
	keys := make([]string, 0, len(m.headers))
	for k := range m.headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.EqualFold(k, "Host") {
			req.Host = m.headers[k]
		} else {
			req.Header.Set(k, m.headers[k])
		}
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return 0, 0, fmt.Errorf("no answer within timeout %s: %w", m.timeout, err)
		}
		return 0, 0, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	resp.Body.Close()
	elapsed := time.Since(start)
	code := resp.StatusCode
	fail := func(format string, args ...any) (int, time.Duration, error) {
		return code, elapsed, fmt.Errorf(format, args...)
	}
	if err != nil {
		return fail("reading the response (status %d) after %s: %w", resp.StatusCode, roundDuration(elapsed), err)
	}
	if resp.StatusCode != m.expectStatus {
		return fail("status %d, want %d (in %s); body: %s", resp.StatusCode, m.expectStatus, roundDuration(elapsed), excerpt(body))
	}
	if err := m.checkHeaders(resp.Header); err != nil {
		return fail("%v (status %d)", err, code)
	}
	if m.maxTime > 0 && elapsed > m.maxTime {
		return fail("answered in %s, over max_response_time %s", roundDuration(elapsed), m.maxTime)
	}
	if m.expectBody != "" && !bytes.Contains(body, []byte(m.expectBody)) {
		return fail("body does not contain %q; body: %s", m.expectBody, excerpt(body))
	}
	if m.hasJSON {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var got any
		if err := dec.Decode(&got); err != nil {
			return fail("body is not JSON (%v); body: %s", err, excerpt(body))
		}
		if err := jsonSubset(m.expectJSON, got, "$"); err != nil {
			if m.jsonSensitive {
				// The error shows what was expected.
				return fail("JSON mismatch with the sensitive expect_json; body: %s", excerpt(body))
			}
			return code, elapsed, fmt.Errorf("JSON mismatch: %w; body: %s", err, excerpt(body))
		}
	}
	return code, elapsed, nil
}

// checkHeaders checks the headers expect_header and expect_location ask for.
func (m *HealthCheck) checkHeaders(h http.Header) error {
	keys := make([]string, 0, len(m.expectHeaders))
	for k := range m.expectHeaders {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, want := h.Values(k), m.expectHeaders[k]
		switch {
		case len(got) == 0:
			return fmt.Errorf("no %s header, want %q", http.CanonicalHeaderKey(k), want)
		case got[0] != want:
			return fmt.Errorf("%s %q, want %q", http.CanonicalHeaderKey(k), got[0], want)
		}
	}
	return nil
}

// excerpt shows at most 200 bytes of a body.
func excerpt(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty)"
	}
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "..."
	}
	return strings.Join(strings.Fields(s), " ")
}

// roundDuration rounds a response time for messages.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

// jsonSubset checks that want is contained in got: objects by key
// (recursively, extra keys in got are fine), lists element by element,
// numbers by value, everything else by equality. path names the position
// for the error ("$.checks.database").
func jsonSubset(want, got any, path string) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %s", path, showJSON(got))
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			p := path + "." + k
			if !ok {
				return fmt.Errorf("%s: missing, want %s", p, showJSON(w[k]))
			}
			if err := jsonSubset(w[k], gv, p); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: want %s, got %s", path, showJSON(want), showJSON(got))
		}
		for i := range w {
			if err := jsonSubset(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case json.Number:
		if g, ok := got.(json.Number); ok && numbersEqual(w, g) {
			return nil
		}
	default:
		if want == got {
			return nil
		}
	}
	return fmt.Errorf("%s: want %s, got %s", path, showJSON(want), showJSON(got))
}

func numbersEqual(a, b json.Number) bool {
	x, _, errA := big.ParseFloat(a.String(), 10, 256, big.ToNearestEven)
	y, _, errB := big.ParseFloat(b.String(), 10, 256, big.ToNearestEven)
	return errA == nil && errB == nil && x.Cmp(y) == 0
}

// showJSON renders a JSON value briefly for messages.
func showJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}
