package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zaki-platform/zaki/internal/testutil"
)

var (
	buildOnce sync.Once
	zakiBin   string
	buildErr  error
)

// zakiBinary builds cmd/zaki once per test process.
func zakiBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zaki-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		zakiBin = filepath.Join(dir, "zaki")
		cmd := exec.Command("go", "build", "-o", zakiBin, "./cmd/zaki")
		cmd.Dir = testutil.RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/zaki: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return zakiBin
}

// proc is one zaki role running as its own process.
type proc struct {
	name    string
	args    []string
	env     []string
	opsAddr string // its /healthz, /readyz, /metrics
	out     *testutil.SyncBuffer
	cmd     *exec.Cmd
	done    chan struct{}
}

// logs is shared by every process of a test: all output ever produced.
type logs struct {
	mu   sync.Mutex
	bufs []*testutil.SyncBuffer
}

func (l *logs) add(b *testutil.SyncBuffer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bufs = append(l.bufs, b)
}

func (l *logs) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s string
	for _, b := range l.bufs {
		s += b.String()
	}
	return s
}

// start runs the process and waits until its /readyz answers 200.
func (p *proc) start(t *testing.T, l *logs) {
	t.Helper()
	p.out = &testutil.SyncBuffer{}
	l.add(p.out)
	p.cmd = exec.Command(zakiBinary(t), p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop() })
	waitUntil(t, 60*time.Second, p.name+" ready", func() error {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %s", p.name, p.out.String())
		default:
		}
		return httpOK("http://" + p.opsAddr + "/readyz")
	})
}

// kill ends the process at once, as a crash would.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop ends the process gracefully.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.kill()
	}
}

func httpOK(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// waitUntil polls cond until it returns nil, failing the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	testutil.WaitUntil(t, timeout, 100*time.Millisecond, what, cond)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
