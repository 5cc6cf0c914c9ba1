package agent

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/profile"
)

// newTestAgent is an agent on node n1 over fake, running profile p as "test".
func newTestAgent(t *testing.T, fake *fakeDocker, p profile.Profile) *Agent {
	t.Helper()
	a, err := New(Config{NodeID: "n1", Docker: fake})
	if err != nil {
		t.Fatal(err)
	}
	a.lookup = func(string) (profile.Profile, error) { return p, nil }
	return a
}

func labelsFor(tenant, gen string) map[string]string {
	l := objectLabels("n1", tenant)
	l[LabelGeneration] = gen
	return l
}

func TestReconcile(t *testing.T) {
	const tenant = "-100500"
	name := ObjectName("n1", tenant)
	ready := readyServer(t, func() int { return http.StatusOK })
	cases := []struct {
		name  string
		setup func(f *fakeDocker)
		want  *zakiv1.Assignment
		// calls are the mutating engine calls expected, in order.
		calls []string
		// final is the tenant's containers afterwards, as name/state/generation.
		final []string
	}{
		{
			name:  "fresh: create and start",
			want:  testAssignment(tenant, 3, 19001),
			calls: []string{"network create " + name, "create " + name + " g3", "start " + name},
			final: []string{name + "/running/g3"},
		},
		{
			name:  "same generation running: adopt, touch nothing",
			setup: func(f *fakeDocker) { f.add(name, "running", labelsFor(tenant, "3")) },
			want:  testAssignment(tenant, 3, 19001),
			final: []string{name + "/running/g3"},
		},
		{
			name:  "same generation created: remove and recreate",
			setup: func(f *fakeDocker) { f.add(name, "created", labelsFor(tenant, "3")) },
			want:  testAssignment(tenant, 3, 19001),
			calls: []string{"stop " + name, "remove " + name, "network create " + name,
				"create " + name + " g3", "start " + name},
			final: []string{name + "/running/g3"},
		},
		{
			name:  "same generation exited: start again",
			setup: func(f *fakeDocker) { f.add(name, "exited", labelsFor(tenant, "3")) },
			want:  testAssignment(tenant, 3, 19001),
			calls: []string{"start " + name},
			final: []string{name + "/running/g3"},
		},
		{
			name:  "old generation: stop, remove, recreate",
			setup: func(f *fakeDocker) { f.add(name, "running", labelsFor(tenant, "2")) },
			want:  testAssignment(tenant, 3, 19001),
			calls: []string{"stop " + name, "remove " + name, "network create " + name,
				"create " + name + " g3", "start " + name},
			final: []string{name + "/running/g3"},
		},
		{
			name: "not desired: remove container and network, keep volume",
			setup: func(f *fakeDocker) {
				f.add(name, "running", labelsFor(tenant, "3"))
				f.networks[name] = objectLabels("n1", tenant)
				f.volumes[name] = objectLabels("n1", tenant)
			},
			calls: []string{"stop " + name, "remove " + name, "network remove " + name},
		},
		{
			name:  "name conflict with a stranger: remove it, create",
			setup: func(f *fakeDocker) { f.add(name, "running", map[string]string{}) },
			want:  testAssignment(tenant, 3, 19001),
			calls: []string{"network create " + name, "stop " + name, "remove " + name,
				"create " + name + " g3", "start " + name},
			final: []string{name + "/running/g3"},
		},
		{
			name: "name conflict with a live twin the list missed: adopt it",
			setup: func(f *fakeDocker) {
				id := f.add(name, "running", labelsFor(tenant, "3"))
				f.hidden[id] = true
			},
			want:  testAssignment(tenant, 3, 19001),
			calls: []string{"network create " + name},
			final: []string{}, // hidden from the list, still the only one
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeDocker("zaki-test:v1")
			if c.setup != nil {
				c.setup(f)
			}
			a := newTestAgent(t, f, testProfile(ready))
			w := &worker{a: a, tenant: tenant, log: a.log}
			if err := w.reconcile(context.Background(), c.want); err != nil {
				t.Fatalf("reconcile: %v", err)
			}
			if got := f.callLog(); !slices.Equal(got, c.calls) {
				t.Errorf("calls:\n got %q\nwant %q", got, c.calls)
			}
			var final []string
			for id, s := range f.snapshot() {
				if !f.hidden[id] {
					final = append(final, s)
				}
			}
			if len(final) != len(c.final) || (len(final) > 0 && final[0] != c.final[0]) {
				t.Errorf("containers = %v, want %v", final, c.final)
			}
			st := a.board.get(tenant)
			switch {
			case c.want == nil && st != nil:
				t.Errorf("removed tenant still has status %v", st)
			case c.want == nil:
				if _, ok := f.volumes[name]; !ok {
					t.Error("volume deleted: a tenant's data must survive reconciliation")
				}
			case st.GetState() != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING || st.GetGeneration() != 3:
				t.Errorf("status = %v, want RUNNING generation 3", st)
			}
			// Idempotent: a second pass changes nothing.
			before := len(f.callLog())
			if err := w.reconcile(context.Background(), c.want); err != nil {
				t.Fatalf("second reconcile: %v", err)
			}
			if extra := f.callLog()[before:]; len(extra) > 0 {
				t.Errorf("second pass made calls %q", extra)
			}
		})
	}
}

func TestReconcileFailures(t *testing.T) {
	const tenant = "77"
	cases := []struct {
		name   string
		images []string
		status int
		reason string
	}{
		{"image missing", nil, http.StatusOK,
			`image "zaki-test:v1" is not on node n1: build it with "make images"`},
		{"never ready", []string{"zaki-test:v1"}, http.StatusServiceUnavailable,
			"not ready after 300ms: GET /readyz answered 503"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeDocker(c.images...)
			p := testProfile(readyServer(t, func() int { return c.status }))
			p.ReadyTimeout = profile.Duration(300 * time.Millisecond)
			a := newTestAgent(t, f, p)
			w := &worker{a: a, tenant: tenant, log: a.log}
			want := testAssignment(tenant, 1, 19001)
			if err := w.reconcile(context.Background(), want); err == nil {
				t.Fatal("reconcile succeeded")
			}
			st := a.board.get(tenant)
			if st.GetState() != zakiv1.PlacementState_PLACEMENT_STATE_FAILED || st.GetReason() != c.reason {
				t.Errorf("status = %v %q, want FAILED %q", st.GetState(), st.GetReason(), c.reason)
			}
			for _, s := range []string{want.Secrets.WebhookSecret, want.Secrets.BotApiSecret} {
				if strings.Contains(st.GetReason(), s) {
					t.Error("a secret leaked into the reason")
				}
			}
		})
	}
	t.Run("port outside the node's range", func(t *testing.T) {
		a := newTestAgent(t, newFakeDocker("zaki-test:v1"), testProfile(1))
		w := &worker{a: a, tenant: tenant, log: a.log}
		_ = w.reconcile(context.Background(), testAssignment(tenant, 1, 80))
		if got := a.board.get(tenant).GetReason(); !strings.Contains(got, "outside node n1's range") {
			t.Errorf("reason = %q", got)
		}
	})
}
