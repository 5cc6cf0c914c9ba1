package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// fakeCP is a control plane that hands each session to the test.
type fakeCP struct {
	zakiv1.UnimplementedAgentServiceServer
	sessions chan *cpSession
}

// cpSession is one agent session as the control plane sees it.
type cpSession struct {
	stream   zakiv1.AgentService_SessionServer
	register *zakiv1.Register
	end      chan error // the handler returns what is sent here

	mu       sync.Mutex
	statuses []*zakiv1.ContainerStatus
	beats    int
}

func (f *fakeCP) Session(stream zakiv1.AgentService_SessionServer) error {
	msg, err := stream.Recv()
	if err != nil {
		return err
	}
	s := &cpSession{stream: stream, register: msg.GetRegister(), end: make(chan error, 1)}
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			s.mu.Lock()
			if st := m.GetStatus(); st != nil {
				s.statuses = append(s.statuses, st)
			} else if m.GetHeartbeat() != nil {
				s.beats++
			}
			s.mu.Unlock()
		}
	}()
	f.sessions <- s
	select {
	case err := <-s.end:
		return err
	case <-stream.Context().Done():
		return nil
	}
}

func (s *cpSession) send(t *testing.T, m *zakiv1.SessionResponse) {
	t.Helper()
	if err := s.stream.Send(m); err != nil {
		t.Fatalf("control plane send: %v", err)
	}
}

func (s *cpSession) welcome(t *testing.T, assignments ...*zakiv1.Assignment) {
	t.Helper()
	s.send(t, &zakiv1.SessionResponse{Msg: &zakiv1.SessionResponse_Welcome{Welcome: &zakiv1.Welcome{
		HeartbeatPeriod: durationpb.New(100 * time.Millisecond)}}})
	s.send(t, &zakiv1.SessionResponse{Msg: &zakiv1.SessionResponse_Desired{Desired: &zakiv1.DesiredSet{
		Assignments: assignments}}})
}

// latest is the last status heard for each tenant.
func (s *cpSession) latest() map[string]*zakiv1.ContainerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*zakiv1.ContainerStatus{}
	for _, st := range s.statuses {
		out[st.GetTenantId()] = st
	}
	return out
}

func (s *cpSession) heartbeats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.beats
}

// startCP serves a fake control plane on a loopback port.
func startCP(t *testing.T) (*fakeCP, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cp := &fakeCP{sessions: make(chan *cpSession, 4)}
	srv := grpc.NewServer()
	zakiv1.RegisterAgentServiceServer(srv, cp)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return cp, ln.Addr().String()
}

func nextSession(t *testing.T, cp *fakeCP) *cpSession {
	t.Helper()
	select {
	case s := <-cp.sessions:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no session from the agent")
		return nil
	}
}

func allRunning(s *cpSession, tenants ...string) func() bool {
	return func() bool {
		l := s.latest()
		for _, tn := range tenants {
			if l[tn].GetState() != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING {
				return false
			}
		}
		return true
	}
}

func TestSessionRebuild(t *testing.T) {
	cp, addr := startCP(t)
	f := newFakeDocker("zaki-test:v1")
	ready := readyServer(t, func() int { return http.StatusOK })
	a := newTestAgent(t, f, testProfile(ready))
	a.cfg.ControlPlane = addr

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	// Session 1: two tenants come up and are reported.
	s1 := nextSession(t, cp)
	if r := s1.register; r.GetProtocolVersion() != 1 || r.GetNode().GetId() != "n1" ||
		r.GetNode().GetPortMin() != 19000 || len(r.GetRunning()) != 0 {
		t.Fatalf("register = %v", r)
	}
	s1.welcome(t, testAssignment("1", 1, 19001), testAssignment("-2", 1, 19002))
	eventually(t, 10*time.Second, "both tenants RUNNING", allRunning(s1, "1", "-2"))
	eventually(t, 5*time.Second, "heartbeats", func() bool { return s1.heartbeats() >= 2 })
	if err := a.Ready(); err != nil {
		t.Errorf("Ready() = %v during a session", err)
	}

	// The control plane drops the session: the agent must not touch a
	// container, and must come back.
	calls := len(f.callLog())
	s1.end <- errors.New("control plane restarting")
	s2 := nextSession(t, cp)
	if got := f.callLog()[calls:]; len(got) != 0 {
		t.Errorf("losing the session made engine calls %q", got)
	}
	if n := len(s2.register.GetRunning()); n != 2 {
		t.Errorf("re-register reports %d running, want 2: %v", n, s2.register.GetRunning())
	}
	for _, st := range s2.register.GetRunning() {
		if st.GetState() != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING {
			t.Errorf("re-register says %v", st)
		}
	}
	if v := metricValue(a.m.reconnects); v != 1 {
		t.Errorf("reconnects = %v, want 1", v)
	}

	// Session 2's desired set holds only tenant 1: tenant -2 goes, 1 stays.
	s2.welcome(t, testAssignment("1", 1, 19001))
	eventually(t, 10*time.Second, "tenant -2 removed", func() bool {
		for _, s := range f.snapshot() {
			if s == ObjectName("n1", "-2")+"/running/g1" {
				return false
			}
		}
		return len(f.snapshot()) == 1
	})

	// A change: tenant 1 moves to generation 2 on another port.
	s2.send(t, &zakiv1.SessionResponse{Msg: &zakiv1.SessionResponse_Change{Change: &zakiv1.AssignmentChange{
		Change: &zakiv1.AssignmentChange_Upsert{Upsert: testAssignment("1", 2, 19003)}}}})
	eventually(t, 10*time.Second, "tenant 1 at generation 2", func() bool {
		st := s2.latest()["1"]
		return st.GetGeneration() == 2 && st.GetState() == zakiv1.PlacementState_PLACEMENT_STATE_RUNNING
	})
	snap := f.snapshot()
	if len(snap) != 1 {
		t.Errorf("containers = %v, want exactly one", snap)
	}
	if v := metricValue(a.m.containers.WithLabelValues("running")); v != 1 {
		t.Errorf("running gauge = %v, want 1", v)
	}

	// A removal.
	s2.send(t, &zakiv1.SessionResponse{Msg: &zakiv1.SessionResponse_Change{Change: &zakiv1.AssignmentChange{
		Change: &zakiv1.AssignmentChange_RemoveTenantId{RemoveTenantId: "1"}}}})
	eventually(t, 10*time.Second, "tenant 1 removed", func() bool { return len(f.snapshot()) == 0 })
	eventually(t, 5*time.Second, "worker retired", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.tenants) == 0
	})
}

func TestSessionHandshakeErrors(t *testing.T) {
	cp, addr := startCP(t)
	a := newTestAgent(t, newFakeDocker(), testProfile(1))
	a.cfg.ControlPlane = addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// A desired set before the welcome is a protocol error: the agent
	// drops the session and comes back.
	s1 := nextSession(t, cp)
	s1.send(t, &zakiv1.SessionResponse{Msg: &zakiv1.SessionResponse_Desired{Desired: &zakiv1.DesiredSet{}}})
	s2 := nextSession(t, cp)
	if a.Ready() == nil {
		t.Error("Ready() = nil before any desired set")
	}
	s2.welcome(t)
	eventually(t, 5*time.Second, "ready", func() bool { return a.Ready() == nil })
}

// metricValue reads a counter's or gauge's current value.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Counter != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}
