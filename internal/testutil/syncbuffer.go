package testutil

import (
	"bytes"
	"sync"
)

// SyncBuffer collects output written from many goroutines (a logger's, a
// child process's), so a test can read all of it back, for example to check
// that no secret was ever logged.
type SyncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
