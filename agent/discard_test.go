package agent

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// discardAssignment is tenant's discard want at gen. It carries what the
// stopped want before it did (a profile, a port, stopped itself): none of
// it may make the worker start, create or serve anything.
func discardAssignment(tenant string, gen uint64) *zakiv1.Assignment {
	as := stoppedAssignment(tenant, gen, "n2")
	as.Discard = true
	return as
}

func TestReconcileDiscard(t *testing.T) {
	const tenant = "-7"
	name := ObjectName("n1", tenant)
	loader := loaderName("n1", tenant)
	ready := readyServer(t, func() int { return http.StatusOK })
	cases := []struct {
		name  string
		setup func(f *fakeDocker)
		// calls are the mutating engine calls expected, in order.
		calls []string
	}{
		{
			name: "everything left: containers of any generation, loader, network, volume",
			setup: func(f *fakeDocker) {
				withVolume(f, f.add(name, "exited", labelsFor(tenant, "4")), name)
				f.add(name+"-old", "running", labelsFor(tenant, "2"))
				withVolume(f, f.add(loader, "created", map[string]string{
					LabelManagedBy: managedByZaki, LabelNode: "n1", LabelLoader: tenant}), name)
				f.networks[name] = objectLabels("n1", tenant)
				f.volumes[name] = objectLabels("n1", tenant)
			},
			// The two containers come in the engine's order; sorted below.
			calls: []string{"remove " + name, "remove " + name + "-old", "stop " + name, "stop " + name + "-old",
				"remove " + loader, "network remove " + name, "volume remove " + name},
		},
		{
			name:  "only the volume",
			setup: func(f *fakeDocker) { f.volumes[name] = objectLabels("n1", tenant) },
			calls: []string{"volume remove " + name},
		},
		{name: "nothing left at all"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDocker("zaki-test:v1")
			// Another tenant's things are never touched.
			other := ObjectName("n1", "8")
			f.add(other, "running", labelsFor("8", "1"))
			f.volumes[other] = objectLabels("n1", "8")
			if tc.setup != nil {
				tc.setup(f)
			}
			a := newTestAgent(t, f, testProfile(ready))
			w := &worker{a: a, tenant: tenant, log: a.log}
			want := discardAssignment(tenant, 4)
			if err := w.reconcile(context.Background(), want); err != nil {
				t.Fatal(err)
			}
			st := a.board.get(tenant)
			if st.GetState() != zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED || st.GetGeneration() != 4 ||
				st.GetContainerId() != "" || st.GetReason() != "" {
				t.Fatalf("status %v, want DISCARDED at generation 4", st)
			}
			got := f.callLog()
			slices.Sort(got)
			wantCalls := slices.Clone(tc.calls)
			slices.Sort(wantCalls)
			if !slices.Equal(got, wantCalls) {
				t.Errorf("calls = %q, want %q", got, wantCalls)
			}
			for _, c := range got {
				if strings.HasPrefix(c, "create") || strings.HasPrefix(c, "start") || strings.HasPrefix(c, "network create") {
					t.Errorf("a discard made or started something: %q", c)
				}
			}
			if snap := f.snapshot(); len(snap) != 1 {
				t.Errorf("containers left = %v, want only tenant 8's", snap)
			}
			if _, ok := f.volumes[name]; ok {
				t.Error("the volume is still there")
			}
			if _, ok := f.volumes[other]; !ok {
				t.Error("tenant 8's volume was removed")
			}
			// A second pass changes nothing and counts nothing more.
			n := len(f.callLog())
			if err := w.reconcile(context.Background(), want); err != nil {
				t.Fatal(err)
			}
			if got := f.callLog()[n:]; len(got) != 0 {
				t.Errorf("second pass made calls %q", got)
			}
			if v := metricValue(a.m.discards.WithLabelValues("ok")); v != 1 {
				t.Errorf("discards ok = %v, want 1", v)
			}
		})
	}
}

// TestReconcileDiscardFails: a step that fails is reported FAILED with the
// step in the reason, counted, and done on the next pass once it can be.
func TestReconcileDiscardFails(t *testing.T) {
	const tenant = "-7"
	name := ObjectName("n1", tenant)
	f := newFakeDocker("zaki-test:v1")
	f.volumes[name] = objectLabels("n1", tenant)
	// Something that is not the tenant's container still mounts the volume.
	squatter := f.add("someone-elses", "exited", map[string]string{})
	withVolume(f, squatter, name)
	a := newTestAgent(t, f, testProfile(1))
	w := &worker{a: a, tenant: tenant, log: a.log}
	want := discardAssignment(tenant, 4)
	if err := w.reconcile(context.Background(), want); err == nil {
		t.Fatal("discard succeeded with the volume in use")
	}
	st := a.board.get(tenant)
	if st.GetState() != zakiv1.PlacementState_PLACEMENT_STATE_FAILED || st.GetGeneration() != 4 ||
		!strings.Contains(st.GetReason(), "discard the leftovers of tenant -7 on node n1: remove volume "+name) {
		t.Fatalf("status %v, want FAILED naming the volume step", st)
	}
	if v := metricValue(a.m.discards.WithLabelValues("failed")); v != 1 {
		t.Errorf("discards failed = %v, want 1", v)
	}
	if err := f.ContainerRemove(context.Background(), squatter, container.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.reconcile(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if st := a.board.get(tenant); st.GetState() != zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED {
		t.Fatalf("status %v after the retry, want DISCARDED", st)
	}
	if v := metricValue(a.m.discards.WithLabelValues("ok")); v != 1 {
		t.Errorf("discards ok = %v, want 1", v)
	}
}

// TestDiscardEndsHold: a discard of the stopped want's own generation ends
// the held context at once (cutting a pull off) and holds nothing itself.
func TestDiscardEndsHold(t *testing.T) {
	a := newTestAgent(t, newFakeDocker("zaki-test:v1"), testProfile(1))
	ctx, cancel := context.WithCancel(context.Background())
	a.runCtx = ctx
	t.Cleanup(func() { cancel(); a.workers.Wait() })

	a.setWant("5", stoppedAssignment("5", 2, "n2"))
	_, held := a.heldWant("5")
	if held == nil {
		t.Fatal("a stopped want holds nothing")
	}
	a.setWant("5", discardAssignment("5", 2))
	select {
	case <-held.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("held context lives on after a discard")
	}
	if want, h := a.heldWant("5"); h != nil || !want.GetDiscard() {
		t.Errorf("heldWant = %v, %v; want the discard, holding nothing", want, h)
	}
	eventually(t, 10*time.Second, "DISCARDED", func() bool {
		return a.board.get("5").GetState() == zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED
	})
}

// TestRegisterResendsDiscarded: a DISCARDED status (no container) cannot
// ride in Register, so the session sends it again after the handshake.
func TestRegisterResendsDiscarded(t *testing.T) {
	f := newFakeDocker("zaki-test:v1")
	f.add(ObjectName("n1", "8"), "running", labelsFor("8", "1"))
	a := newTestAgent(t, f, testProfile(1))
	a.board.set(&zakiv1.ContainerStatus{TenantId: "5", Generation: 2,
		State: zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED})
	a.board.takeDirty() // sent in an earlier session
	running, err := a.running(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 1 || running[0].GetTenantId() != "8" {
		t.Fatalf("Register carries %v, want tenant 8's container only", running)
	}
	dirty := a.board.takeDirty()
	if len(dirty) != 1 || dirty[0].GetTenantId() != "5" ||
		dirty[0].GetState() != zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED {
		t.Fatalf("to send after the handshake: %v, want tenant 5 DISCARDED", dirty)
	}
}
