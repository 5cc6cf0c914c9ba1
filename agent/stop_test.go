package agent

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

func TestDecideStopped(t *testing.T) {
	cases := []struct {
		name  string
		found []observed
		want  stopPlan
	}{
		{"nothing: a holder is needed", nil, stopPlan{}},
		{"running: stop and keep", []observed{{"a", 3, "running"}}, stopPlan{Keep: "a", Stop: true}},
		{"restarting: stop and keep", []observed{{"a", 3, "restarting"}}, stopPlan{Keep: "a", Stop: true}},
		{"exited: keep as it is", []observed{{"a", 3, "exited"}}, stopPlan{Keep: "a"}},
		{"created holder: keep as it is", []observed{{"a", 4, "created"}}, stopPlan{Keep: "a"}},
		{"dead: remove, a holder is needed", []observed{{"a", 3, "dead"}}, stopPlan{Remove: []string{"a"}}},
		{"two: the newest is kept", []observed{{"old", 2, "exited"}, {"new", 3, "running"}},
			stopPlan{Remove: []string{"old"}, Keep: "new", Stop: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideStopped(tc.found); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decideStopped = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// stoppedAssignment is tenant's stopped want at gen, moving to node.
func stoppedAssignment(tenant string, gen uint64, to string) *zakiv1.Assignment {
	as := testAssignment(tenant, gen, 19001)
	as.Stopped, as.MoveToNodeId = true, to
	return as
}

// withVolume gives a fake container the tenant's volume mount.
func withVolume(f *fakeDocker, id, volume string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[id].Host.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: volume, Target: "/data"}}
}

func TestReconcileStopped(t *testing.T) {
	const tenant = "-7"
	name := ObjectName("n1", tenant)
	ready := readyServer(t, func() int { return http.StatusOK })
	cases := []struct {
		name  string
		setup func(f *fakeDocker)
		calls []string
		state zakiv1.PlacementState
		final []string
	}{
		{
			name:  "running: stopped, kept",
			setup: func(f *fakeDocker) { f.add(name, "running", labelsFor(tenant, "3")) },
			calls: []string{"stop " + name},
			state: zakiv1.PlacementState_PLACEMENT_STATE_STOPPED,
			final: []string{name + "/exited/g3"},
		},
		{
			name: "no container, a volume: a holder, never started",
			setup: func(f *fakeDocker) {
				f.volumes[name] = objectLabels("n1", tenant)
			},
			calls: []string{"create " + name + " g4"},
			state: zakiv1.PlacementState_PLACEMENT_STATE_STOPPED,
			final: []string{name + "/created/g4"},
		},
		{
			name:  "no container, no volume: failed, nothing made up",
			state: zakiv1.PlacementState_PLACEMENT_STATE_FAILED,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDocker("zaki-test:v1")
			if tc.setup != nil {
				tc.setup(f)
			}
			a := newTestAgent(t, f, testProfile(ready))
			w := &worker{a: a, tenant: tenant, log: a.log}
			want := stoppedAssignment(tenant, 4, "n2")
			err := w.reconcile(context.Background(), want)
			st := a.board.get(tenant)
			if st.GetState() != tc.state || st.GetGeneration() != 4 {
				t.Fatalf("status %v (error %v), want %v at generation 4", st, err, tc.state)
			}
			if tc.state == zakiv1.PlacementState_PLACEMENT_STATE_FAILED &&
				!strings.Contains(st.GetReason(), "no volume on node n1") {
				t.Errorf("reason %q does not say the volume is missing", st.GetReason())
			}
			if got := f.callLog(); !slices.Equal(got, tc.calls) {
				t.Errorf("calls = %q, want %q", got, tc.calls)
			}
			var final []string
			for _, s := range f.snapshot() {
				final = append(final, s)
			}
			if !slices.Equal(final, tc.final) {
				t.Errorf("containers = %q, want %q", final, tc.final)
			}
			// A second pass changes nothing: a stopped want never starts.
			n := len(f.callLog())
			_ = w.reconcile(context.Background(), want)
			if got := f.callLog()[n:]; len(got) != 0 {
				t.Errorf("second pass made calls %q", got)
			}
		})
	}
}

// TestHeldWant: a stopped want's held context lives while that very want
// does, and ends the moment it moves on.
func TestHeldWant(t *testing.T) {
	a := newTestAgent(t, newFakeDocker("zaki-test:v1"), testProfile(1))
	ctx, cancel := context.WithCancel(context.Background())
	a.runCtx = ctx
	t.Cleanup(func() { cancel(); a.workers.Wait() })

	a.setWant("5", stoppedAssignment("5", 2, "n2"))
	want, held := a.heldWant("5")
	if !want.GetStopped() || held == nil || held.Err() != nil {
		t.Fatalf("heldWant = %v, %v", want, held)
	}
	a.setWant("5", stoppedAssignment("5", 2, "n2")) // the same want again
	if _, again := a.heldWant("5"); again != held || held.Err() != nil {
		t.Fatal("the same stopped want replaced or ended the held context")
	}
	a.setWant("5", testAssignment("5", 3, 19001))
	select {
	case <-held.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("held context lives on after the want moved on")
	}
	if _, h := a.heldWant("5"); h != nil {
		t.Error("a running want has a held context")
	}
}
