package main

import (
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// peakProfile samples the live heap every interval and, each time it is
// higher than any seen before, rewrites file with the heap profile of that
// moment, so that what remains is the profile nearest the run's peak (its
// inuse_space is as of the last garbage collection). For measuring tend
// itself (TEND_PEAKPROFILE; undocumented, like TEND_MEMPROFILE); the
// returned function stops the sampling. Failures are reported on stderr and
// otherwise ignored.
func peakProfile(file string, interval time.Duration, stderr io.Writer) (stop func()) {
	if file == "" {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	go func() {
		defer close(finished)
		var peak uint64
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return
			}
			live := sample[0].Value.Uint64()
			if live <= peak {
				continue
			}
			peak = live
			if err := writeHeapProfile(file); err != nil {
				fmt.Fprintf(stderr, "tend: TEND_PEAKPROFILE: %v\n", err)
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// writeHeapProfile writes the heap profile to file, through a temporary
// file so that a reader never sees half of one.
func writeHeapProfile(file string) error {
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = pprof.Lookup("heap").WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, file)
}
