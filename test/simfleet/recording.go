// Package simfleet simulates a fleet of converged hosts for scale
// benchmarks: N in-process SSH servers on loopback that answer tend's
// commands from a recording of what a real converged host (test/fleet)
// answered, without running anything. It also holds the recording proxy
// that makes such a recording: an SSH server that forwards every command of
// one tend run to a real host and writes down the exchanges.
//
// A recorded exchange is keyed by the command's script and data with their
// per-run parts (tokens, run ids, times) replaced by placeholders; the
// simulator substitutes the values of the command in hand into the
// recorded answer (see Normalize).
package simfleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Recording is what a converged host answered to one tend run.
type Recording struct {
	// Note says where and how the recording was made.
	Note string `json:"note"`
	// Exchanges are the supervised commands, in the order they were run.
	Exchanges []Exchange `json:"exchanges"`
	// Sockets are the unix socket conversations (direct-streamlocal).
	Sockets []SocketExchange `json:"sockets,omitempty"`
}

// Exchange is one supervised command and its answer, normalised.
type Exchange struct {
	// Script and Data are the command's script and standard input data
	// (see executor's supervisor), normalised.
	Script string `json:"script"`
	Data   string `json:"data,omitempty"`
	// Stdout and Stderr are the command's own output (the supervisor's
	// "tend-ok" line left out), normalised with the same placeholders.
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr,omitempty"`
	Exit   int    `json:"exit"`
	// UntilEOF marks a held command (the run lock): it ended only once tend
	// closed its standard input.
	UntilEOF bool `json:"until_eof,omitempty"`
}

// SocketExchange is one conversation over a unix socket on the host.
type SocketExchange struct {
	Path     string `json:"path"`
	Request  string `json:"request"`
	Response string `json:"response"`
}

// Load reads a recording written by Save.
func Load(file string) (*Recording, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var r Recording
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("recording %s: %w", file, err)
	}
	if len(r.Exchanges) == 0 {
		return nil, fmt.Errorf("recording %s: no exchanges", file)
	}
	return &r, nil
}

// Save writes the recording as indented JSON.
func (r *Recording) Save(file string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(data, '\n'), 0o644)
}

// varying matches the parts of a script that differ from run to run: long
// hexadecimal strings (tokens, lock ids, digests of per-run data), Unix
// times in seconds or nanoseconds, run ids (20261201T062855Z-31241), times
// (2026-12-01T06:28:55Z) and the lock holder ("by root@vm (pid 31241)").
var varying = regexp.MustCompile(`\b[0-9a-f]{16,64}\b|\b1[0-9]{9}(?:[0-9]{9})?\b|\b[0-9]{8}T[0-9]{6}Z(?:-[0-9]+)?\b|\b[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z|by [^ ']+ \(pid [0-9]+\)`)

// Times in socket answers (an HTTP Date header, ISO times in a JSON body)
// are recorded as placeholders and answered with the time of the answer,
// in the same format (so lengths do not change).
var (
	httpDate = regexp.MustCompile(`(?m)^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT`)
	isoMicro = regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00`)
)

const (
	datePlaceholder = "Date: ⟨http-date⟩"
	isoPlaceholder  = "⟨iso-time⟩"
)

// abstractTimes replaces the times of a socket answer by placeholders.
func abstractTimes(s string) string {
	s = httpDate.ReplaceAllString(s, datePlaceholder)
	return isoMicro.ReplaceAllString(s, isoPlaceholder)
}

// concreteTimes puts the time now into a socket answer.
func concreteTimes(s string, now time.Time) string {
	now = now.UTC()
	s = strings.ReplaceAll(s, datePlaceholder, "Date: "+now.Format(http.TimeFormat))
	return strings.ReplaceAll(s, isoPlaceholder, now.Format("2006-01-02T15:04:05.000000+00:00"))
}

// Normalize replaces the per-run parts of a command's script and data by
// numbered placeholders (⟨0⟩, ⟨1⟩, …), the same value by the same one, and
// returns the normalised text and the values in order. (The command's
// token, from its command line, gets the next number after them in
// answers.)
//
// Most commands of a run are the same on every host (facts, probes), so
// results are remembered (up to normalizeCacheSize inputs): the regular
// expression is the simulator's main cost otherwise.
func Normalize(script, data string) (string, string, []string) {
	key := script + "\x00" + data
	if v, ok := normalizeCache.Load(key); ok {
		n := v.(normalized)
		return n.script, n.data, slices.Clone(n.vals)
	}
	ns, nd, vals := normalize(script, data)
	if normalizeCount.Add(1) <= normalizeCacheSize {
		normalizeCache.Store(key, normalized{ns, nd, slices.Clone(vals)})
	}
	return ns, nd, vals
}

// normalized is a remembered result of Normalize.
type normalized struct {
	script, data string
	vals         []string
}

const normalizeCacheSize = 4096

var (
	normalizeCache sync.Map // script+"\x00"+data → normalized
	normalizeCount atomic.Int64
)

func normalize(script, data string) (string, string, []string) {
	var vals []string
	index := map[string]int{}
	repl := func(v string) string {
		i, ok := index[v]
		if !ok {
			i = len(vals)
			index[v] = i
			vals = append(vals, v)
		}
		return "⟨" + strconv.Itoa(i) + "⟩"
	}
	return varying.ReplaceAllStringFunc(script, repl), varying.ReplaceAllStringFunc(data, repl), vals
}

// abstract replaces in an answer the values of the command by their
// placeholders (for recording).
func abstract(s string, vals []string) string {
	for i, v := range vals {
		s = strings.ReplaceAll(s, v, "⟨"+strconv.Itoa(i)+"⟩")
	}
	return s
}

// concrete puts the values of the command in hand into a recorded answer.
func concrete(s string, vals []string) string {
	if !strings.Contains(s, "⟨") {
		return s
	}
	for i := len(vals) - 1; i >= 0; i-- {
		s = strings.ReplaceAll(s, "⟨"+strconv.Itoa(i)+"⟩", vals[i])
	}
	return s
}

// supervised is one command tend started: the token and sizes from its
// command line.
type supervised struct {
	token       string
	input       int // bytes of data, -1 for none
	prologueLen int
}

// parseCommandLine reads the end of a supervised command line: "...
// tend-supervisor TOKEN DEADLINE HEARTBEAT INPUT PROLOGUE-BYTES".
func parseCommandLine(line string) (supervised, error) {
	f := strings.Fields(line)
	if len(f) < 6 || f[len(f)-6] != "tend-supervisor" {
		return supervised{}, fmt.Errorf("not a supervised tend command: %.80q", line)
	}
	input, err1 := strconv.Atoi(f[len(f)-2])
	plen, err2 := strconv.Atoi(f[len(f)-1])
	if err := errors.Join(err1, err2); err != nil || plen < 0 || plen > 64<<20 || input > 1<<30 {
		return supervised{}, fmt.Errorf("bad supervised command line %.80q", line)
	}
	return supervised{token: f[len(f)-5], input: input, prologueLen: plen}, nil
}

// scriptOf returns the command's script from the prologue
// ("tend_sc=QUOTED\n<supervisor>\n: tend-end-TOKEN").
func scriptOf(prologue []byte) (string, error) {
	rest, ok := bytes.CutPrefix(prologue, []byte("tend_sc="))
	if !ok {
		return "", errors.New("prologue does not start with tend_sc=")
	}
	if len(rest) == 0 || rest[0] != '\'' {
		// A bare word.
		word, _, _ := bytes.Cut(rest, []byte("\n"))
		return string(word), nil
	}
	// Single-quoted, with ' written as '\''.
	var b strings.Builder
	i := 1
	for {
		j := bytes.IndexByte(rest[i:], '\'')
		if j < 0 {
			return "", errors.New("unterminated quote in the prologue")
		}
		b.Write(rest[i : i+j])
		i += j + 1
		if bytes.HasPrefix(rest[i:], []byte(`\''`)) {
			b.WriteByte('\'')
			i += 3
			continue
		}
		return b.String(), nil
	}
}
