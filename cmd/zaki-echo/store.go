package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// logName is the durable record of received updates inside the data dir.
const logName = "updates.log"

// entry is one line of updates.log.
type entry struct {
	UpdateID int64  `json:"update_id"`
	ChatID   *int64 `json:"chat_id,omitempty"`
}

// store is the append-only, fsynced record of update ids the echo accepted.
// It is what lets a restarted echo ignore a repeated update_id.
type store struct {
	mu   sync.Mutex // guards the fields below
	f    *os.File
	size int64 // bytes of whole lines in f; appends start here
	seen map[int64]bool
}

// openStore loads path (creating it) and positions for appends. A torn last
// line, left by a crash between write and fsync, was never acknowledged, so
// it is cut off rather than treated as corruption.
func openStore(path string) (*store, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &store{f: f, seen: map[int64]bool{}}
	if err := s.loadLocked(); err != nil {
		f.Close()
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *store) loadLocked() error {
	data, err := io.ReadAll(s.f)
	if err != nil {
		return err
	}
	good := bytes.LastIndexByte(data, '\n') + 1
	sc := bufio.NewScanner(bytes.NewReader(data[:good]))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		s.seen[e.UpdateID] = true
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if good != len(data) {
		if err := s.f.Truncate(int64(good)); err != nil {
			return err
		}
	}
	s.size = int64(good)
	_, err = s.f.Seek(s.size, io.SeekStart)
	return err
}

// record appends e durably and reports whether it is new. A duplicate is not
// written again. The record is on disk when record returns true and nil.
func (s *store) record(e entry) (fresh bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[e.UpdateID] {
		return false, nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	line = append(line, '\n')
	if _, err := s.f.Write(line); err != nil {
		s.rewindLocked()
		return false, fmt.Errorf("append update %d: %w", e.UpdateID, err)
	}
	if err := s.f.Sync(); err != nil {
		s.rewindLocked()
		return false, fmt.Errorf("fsync update %d: %w", e.UpdateID, err)
	}
	s.size += int64(len(line))
	s.seen[e.UpdateID] = true
	return true, nil
}

// rewindLocked drops a partly written line (a full disk, say), so the next
// append does not land behind half a record.
func (s *store) rewindLocked() {
	_ = s.f.Truncate(s.size)
	_, _ = s.f.Seek(s.size, io.SeekStart)
}

// count returns how many distinct update ids are recorded.
func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func (s *store) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}

// syncDir makes a newly created file's directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
