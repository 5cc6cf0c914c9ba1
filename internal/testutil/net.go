package testutil

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// handedOut are the ports FreePort returned in this process: the kernel
// may offer a just-closed port again at once, and two callers that both
// bind later (an etcd's client and peer URLs) would then collide.
var handedOut sync.Map

// FreePort returns a loopback TCP port that was free a moment ago and that
// it has not returned before in this process.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if _, taken := handedOut.LoadOrStore(port, true); !taken {
			return port
		}
	}
	t.Fatal("free port: the kernel kept offering ports already handed out")
	return 0
}

// RepoRoot returns the repository's root: the nearest parent with a go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// WaitUntil polls cond every poll until it returns nil, failing the test
// after timeout with what and cond's last error.
func WaitUntil(t testing.TB, timeout, poll time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %v", what, timeout, err)
		}
		time.Sleep(poll)
	}
}
