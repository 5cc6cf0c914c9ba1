package pki

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestKEKCreatedOnceUnderARace: control planes that start together on one
// shared file all end with the same key, exactly one of them made it, and
// no temp file is left behind.
func TestKEKCreatedOnceUnderARace(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		path := filepath.Join(dir, "ca-kek")
		const n = 8
		keks := make([][]byte, n)
		made := make([]bool, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				keks[i], made[i], errs[i] = LoadOrCreateKEK(path)
			})
		}
		close(start)
		wg.Wait()
		creators := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d, process %d: %v", round, i, errs[i])
			}
			if !bytes.Equal(keks[i], keks[0]) {
				t.Fatalf("round %d: process %d has another key", round, i)
			}
			if made[i] {
				creators++
			}
		}
		if creators != 1 {
			t.Fatalf("round %d: %d processes say they made the key, want 1", round, creators)
		}
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != 1 {
			t.Fatalf("round %d: dir holds %v (%v), want the key file alone", round, entries, err)
		}
	}
}
