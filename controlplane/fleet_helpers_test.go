package controlplane

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	// Real time, so that certificates the control plane issues are valid.
	return &fakeClock{t: time.Now().UTC()}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

// restartable runs control planes one after another on one etcd data dir
// and the same ports, as a restarted host would.
type restartable struct {
	t    *testing.T
	cfg  Config
	stop func()
}

func newRestartable(t *testing.T, mods ...func(*Config)) *restartable {
	cfg := testConfig(t, mods...)
	r := &restartable{t: t, cfg: cfg}
	t.Cleanup(func() {
		if r.stop != nil {
			r.stop()
		}
	})
	return r
}

// start starts a control plane, stopping the running one first.
func (r *restartable) start() *Server {
	r.t.Helper()
	if r.stop != nil {
		r.stop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, r.cfg)
	if err != nil {
		cancel()
		r.t.Fatalf("start: %v", err)
	}
	r.stop = func() {
		cancel()
		if err := s.Wait(); err != nil {
			r.t.Errorf("wait: %v", err)
		}
		r.stop = nil
	}
	return s
}

// nodeState is node id's state and session as ListNodes shows them.
func nodeState(t *testing.T, c clients, id string) (zakiv1.NodeState, bool) {
	t.Helper()
	resp, err := c.admin.ListNodes(testCtx(t), &zakiv1.ListNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range resp.Nodes {
		if n.Node.Id == id {
			return n.Node.State, n.Connected
		}
	}
	t.Fatalf("node %s not listed", id)
	return 0, false
}

// rawKV reads one key straight from etcd; nil when absent.
func rawKV(t *testing.T, s *Server, key string) *clientv3.GetResponse {
	t.Helper()
	resp, err := s.cli.Get(testCtx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// placementsAt is every placement key with its mod revision and value, to
// prove that nothing moved.
func placementsAt(t *testing.T, s *Server) map[string]string {
	t.Helper()
	resp, err := s.cli.Get(testCtx(t), placementPrefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = fmt.Sprintf("%d/%x", kv.ModRevision, kv.Value)
	}
	return out
}

func heartbeatOnce(a *fakeAgent) {
	a.send(&zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Heartbeat{Heartbeat: &zakiv1.Heartbeat{}}})
}
