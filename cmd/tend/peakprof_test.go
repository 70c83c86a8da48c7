package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var peakSink [][]byte

// TestPeakProfile checks that TEND_PEAKPROFILE leaves a heap profile that
// holds what was live at the peak, reports a file it cannot write, and
// does nothing when unset.
func TestPeakProfile(t *testing.T) {
	if stop := peakProfile("", time.Millisecond, os.Stderr); stop == nil {
		t.Fatal("nil stop")
	} else {
		stop()
	}
	// Every allocation sampled; set before the sampler runs (it reads the
	// rate) and restored once it stopped.
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()
	file := filepath.Join(t.TempDir(), "peak.prof")
	var stderr bytes.Buffer
	stop := peakProfile(file, time.Millisecond, &stderr)
	for i := 0; i < 64; i++ {
		peakSink = append(peakSink, make([]byte, 1<<20))
	}
	runtime.GC()
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	stop()
	peakSink = nil
	if stderr.Len() > 0 {
		t.Fatalf("stderr: %s", &stderr)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("not a pprof profile: %v", err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	// The profile's string table names the function that allocated what
	// was live at the peak.
	if !bytes.Contains(data, []byte("TestPeakProfile")) {
		t.Errorf("the profile does not hold the allocations live at the peak")
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}

	stderr.Reset()
	bad := filepath.Join(t.TempDir(), "missing", "peak.prof")
	stop = peakProfile(bad, time.Millisecond, &stderr)
	for i := 0; i < 8; i++ {
		peakSink = append(peakSink, make([]byte, 1<<20))
	}
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	stop()
	peakSink = nil
	if !strings.Contains(stderr.String(), "TEND_PEAKPROFILE") {
		t.Errorf("an unwritable file was not reported: %q", &stderr)
	}
}
