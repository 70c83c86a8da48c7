package report

import (
	"strings"
	"testing"
)

const (
	start0 = `{"type":"run_start","time":"2026-01-01T00:00:00Z","mode":"apply","hosts":["a","b"],"run":{"playbook_sha256":"p1","inventory_sha256":"i1","shard":"0/2"}}` + "\n"
	recap0 = `{"type":"recap","time":"2026-01-01T00:00:01Z","mode":"apply","recap":[{"host":"a","ok":1,"changed":1,"failed":0,"skipped":0,"unreachable":false,"duration_ms":5,"round_trips":2},{"host":"b","ok":2,"changed":0,"failed":1,"skipped":0,"unreachable":false,"duration_ms":5,"round_trips":2}],"totals":{"hosts":2,"ok":3,"changed":1,"failed":1,"skipped":0,"unreachable":0}}` + "\n"
	start1 = `{"type":"run_start","time":"2026-01-01T00:00:00Z","mode":"apply","hosts":["c"],"run":{"playbook_sha256":"p1","inventory_sha256":"i1","shard":"1/2"}}` + "\n"
	task1  = `{"type":"task","time":"2026-01-01T00:00:00Z","mode":"apply","host":"c","task":"file.x","status":"ok"}` + "\n"
	recap1 = `{"type":"recap","time":"2026-01-01T00:00:01Z","mode":"apply","recap":[{"host":"c","ok":1,"changed":0,"failed":0,"skipped":0,"unreachable":true,"duration_ms":5,"round_trips":0}],"totals":{"hosts":1,"ok":1,"changed":0,"failed":0,"skipped":0,"unreachable":1}}` + "\n"
)

func read(t *testing.T, name, text string) *Stream {
	t.Helper()
	s, err := ReadStream(name, strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReadStream(t *testing.T) {
	s := read(t, "s0", start0+recap0)
	if s.Start == nil || s.Recap == nil || s.Shard == nil || s.Shard.String() != "0/2" {
		t.Errorf("whole stream: %+v", s)
	}
	// Cut in the middle of the recap line: the run's end is unknown.
	s = read(t, "s1", start1+task1+recap1[:40])
	if s.Start == nil || s.Recap != nil {
		t.Errorf("cut stream: start %v, recap %v", s.Start, s.Recap)
	}
	// Empty: the shard never started.
	if s = read(t, "s2", ""); s.Start != nil {
		t.Errorf("empty stream has a start")
	}
	for _, tc := range []struct{ text, want string }{
		{"hello\n" + start0, "s:1: not a tend --json event"},
		{start0 + "{}\n" + recap0, "s:2: not a tend --json event"},
		{recap0, "a recap before run_start"},
		{start0 + start1, "a second run_start"},
		{strings.Replace(start0, `"0/2"`, `"2/2"`, 1), "shard"},
	} {
		if _, err := ReadStream("s", strings.NewReader(tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadStream(%.40q…): %v, want an error with %q", tc.text, err, tc.want)
		}
	}
}

func TestMerge(t *testing.T) {
	m, err := Merge([]*Stream{read(t, "s1", start1+task1+recap1), read(t, "s0", start0+recap0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Unknown) != 0 || len(m.Recaps) != 3 || m.Recaps[0].Host != "a" || m.Recaps[2].Host != "c" || !m.Recaps[2].Unreachable || m.Mode != "apply" || m.Run.Playbook != "p1" || m.Run.Shard != "" {
		t.Errorf("merged: %+v", m)
	}

	m, err = Merge([]*Stream{read(t, "s0", start0+recap0), read(t, "s1", start1+task1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Unknown) != 1 || m.Unknown[0].What != "s1" || len(m.Unknown[0].Hosts) != 1 || len(m.Recaps) != 2 {
		t.Errorf("a cut stream: %+v", m)
	}
	m, err = Merge([]*Stream{read(t, "s0", start0+recap0)})
	if err != nil || len(m.Unknown) != 1 || m.Unknown[0].What != "shard 1/2" {
		t.Errorf("a missing shard: %+v, %v", m, err)
	}

	for _, tc := range []struct {
		name    string
		streams []string
		want    string
	}{
		{"twice", []string{start0 + recap0, start0 + recap0}, "are both shard 0/2"},
		{"mode", []string{start0, strings.ReplaceAll(start1, `"apply"`, `"plan"`)}, "ran tend plan"},
		{"playbook", []string{start0, strings.Replace(start1, "p1", "p2", 1)}, "another playbook"},
		{"inventory", []string{start0, strings.Replace(start1, "i1", "i2", 1)}, "another inventory"},
		{"count", []string{start0, strings.Replace(start1, "1/2", "1/3", 1)}, "another stream one of 2"},
		{"host twice", []string{start0, strings.Replace(start1, `["c"]`, `["a"]`, 1)}, "host a is in both"},
		{"nothing started", []string{"", ""}, "no stream has a run_start"},
	} {
		var streams []*Stream
		for i, text := range tc.streams {
			streams = append(streams, read(t, "s"+string(rune('0'+i)), text))
		}
		if _, err := Merge(streams); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
