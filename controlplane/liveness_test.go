package controlplane

import (
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestAliveSet plays the alive keys of one node through the set and checks
// what the judge is told.
func TestAliveSet(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	kicks := 0
	a := newAliveSet(clock.Now, func() { kicks++ })
	put := func(rev int64, v string) *clientv3.Event {
		return &clientv3.Event{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(aliveKey("n1")),
			Value: []byte(v), ModRevision: rev}}
	}
	del := func(rev int64, prev string) *clientv3.Event {
		return &clientv3.Event{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: []byte(aliveKey("n1")),
			ModRevision: rev}, PrevKv: &mvccpb.KeyValue{Value: []byte(prev)}}
	}
	at := func(d time.Duration) time.Time { return start.Add(d) }
	steps := []struct {
		name  string
		ev    *clientv3.Event
		grace time.Time // the current leader's start
		want  liveness
		held  bool
	}{
		{"never seen", nil, at(-time.Hour), liveness{since: at(-time.Hour)}, false},
		{"held by cp2", put(10, "cp2"), at(-time.Hour), liveness{lastHeard: clock.Now()}, true},
		{"goodbye after 2s silent", put(11, goodbyeValue("cp2", 2*time.Second)), at(-time.Hour),
			liveness{lastHeard: clock.Now().Add(-2 * time.Second)}, false},
		{"goodbye's delete", del(12, goodbyeValue("cp2", 2*time.Second)), at(-time.Hour),
			liveness{lastHeard: clock.Now().Add(-2 * time.Second)}, false},
		{"heard before the leader took over", nil, at(time.Minute), liveness{since: at(time.Minute)}, false},
		{"an old event from the watch", put(9, "cp3"), at(-time.Hour),
			liveness{lastHeard: clock.Now().Add(-2 * time.Second)}, false},
		{"held by cp3", put(13, "cp3"), at(-time.Hour), liveness{lastHeard: clock.Now()}, true},
		{"cp3 vanished", del(14, "cp3"), at(-time.Hour), liveness{since: clock.Now()}, false},
	}
	for _, st := range steps {
		if st.ev != nil {
			a.apply(st.ev)
		}
		got, held := a.liveness("n1", clock.Now(), st.grace)
		if got != st.want || held != st.held {
			t.Fatalf("%s: %+v held=%v, want %+v held=%v", st.name, got, held, st.want, st.held)
		}
	}
	if kicks != 2 {
		t.Fatalf("%d kicks, want one per node gaining a session (2)", kicks)
	}
}

// TestAliveSetRelist: a node held before a watch broke and gone from the
// new listing is lost as of the listing.
func TestAliveSetRelist(t *testing.T) {
	clock := newFakeClock()
	a := newAliveSet(clock.Now, func() {})
	a.reset([]*mvccpb.KeyValue{{Key: []byte(aliveKey("n1")), Value: []byte("cp1"), ModRevision: 5},
		{Key: []byte(aliveKey("n2")), Value: []byte("cp1"), ModRevision: 6}}, 6)
	clock.Advance(time.Minute)
	a.reset([]*mvccpb.KeyValue{{Key: []byte(aliveKey("n2")), Value: []byte("cp2"), ModRevision: 9}}, 9)
	if l, held := a.liveness("n1", clock.Now(), time.Time{}); held || l.since != clock.Now() {
		t.Fatalf("n1 after the relist: %+v held=%v, want lost now", l, held)
	}
	if _, held := a.liveness("n2", clock.Now(), time.Time{}); !held {
		t.Fatal("n2 after the relist: not held")
	}
}

func TestParseAlive(t *testing.T) {
	if r, _, bye := parseAlive([]byte("cp1")); r != "cp1" || bye {
		t.Fatalf("held value: %q %v", r, bye)
	}
	if r, silent, bye := parseAlive([]byte(goodbyeValue("cp1", 1500*time.Millisecond))); r != "cp1" || !bye ||
		silent != 1500*time.Millisecond {
		t.Fatalf("goodbye: %q %v %v", r, silent, bye)
	}
}
