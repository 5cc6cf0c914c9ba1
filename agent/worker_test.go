package agent

import (
	"context"
	"net/http"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

func TestWorkerRetriesAFailedStart(t *testing.T) {
	f := newFakeDocker() // no image yet
	a := newTestAgent(t, f, testProfile(readyServer(t, func() int { return http.StatusOK })))
	ctx, cancel := context.WithCancel(context.Background())
	a.runCtx = ctx
	t.Cleanup(func() { cancel(); a.workers.Wait() })

	a.setWant("5", testAssignment("5", 1, 19005))
	eventually(t, 5*time.Second, "FAILED", func() bool {
		return a.board.get("5").GetState() == zakiv1.PlacementState_PLACEMENT_STATE_FAILED
	})
	f.mu.Lock()
	f.images["zaki-test:v1"] = true // the operator ran "make images"
	f.mu.Unlock()
	eventually(t, 10*time.Second, "RUNNING after a retry", func() bool {
		return a.board.get("5").GetState() == zakiv1.PlacementState_PLACEMENT_STATE_RUNNING
	})
	if v := metricValue(a.m.startFailures); v < 1 {
		t.Errorf("start failures = %v", v)
	}
	if v := metricValue(a.m.starts); v != 1 {
		t.Errorf("starts = %v, want 1", v)
	}
}
