package controlplane

import (
	"errors"
	"strings"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRegisterLimiter(t *testing.T) {
	l := newRegisterLimiter(time.Second, 2)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		name    string
		node    string
		at      time.Duration
		refused bool
	}{
		{"first of the burst", "n1", 0, false},
		{"second of the burst", "n1", 0, false},
		{"past the burst", "n1", 0, true},
		{"another node is not held back", "n2", 0, false},
		{"still too soon", "n1", 999 * time.Millisecond, true},
		{"one interval later", "n1", time.Second, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := l.allow(st.node, now.Add(st.at))
			if (err != nil) != st.refused {
				t.Fatalf("allow = %v, refused want %v", err, st.refused)
			}
			if err != nil && (!errors.Is(err, errRateLimited) || !strings.Contains(err.Error(), "retry in")) {
				t.Fatalf("refusal %q says not when to retry", err)
			}
		})
	}
}

func TestReregistrationStormIsRefused(t *testing.T) {
	s := startServer(t, func(c *Config) { c.RegisterBurst = 3; c.RegisterInterval = time.Minute })
	c := dial(t, s)
	for range 3 {
		a, _ := register(t, c, testNode("node-1", 1024))
		a.cancel()
	}
	refused := 0
	for range 20 {
		stream, err := c.agent.Session(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(regMsg(1, testNode("node-1", 1024))); err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "retry in") {
			t.Fatalf("registration %d past the burst: %v, want ResourceExhausted saying when to retry", refused+1, err)
		}
		refused++
	}
	// Another node is not held back by node-1's storm.
	other, _ := register(t, c, testNode("node-2", 1024))
	other.cancel()
	if st, _ := nodeState(t, c, "node-1"); st != zakiv1.NodeState_NODE_STATE_ACTIVE {
		t.Fatalf("node-1 after a refused storm: %v", st)
	}
}
