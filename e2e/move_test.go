package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zaki-platform/zaki/agent"
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// TestMoveAndDrainEndToEnd: four people talk to the bot and their tenants
// run on one node; a second node joins. One tenant is moved to it with
// `zaki ctl tenants move` while its messages keep arriving, then the first
// node is drained with `zaki ctl nodes drain` while the others' messages keep
// arriving. Every acknowledged update ends in its own tenant's volume on the
// new node exactly once and in order, the data from before each move came
// along, and no tenant ever had two containers running.
func TestMoveAndDrainEndToEnd(t *testing.T) {
	began := time.Now()
	s := &moveScene{c: startCluster(t), u: newUpdates(), acked: map[int64][]int64{}}
	s.from = s.c.node
	t.Cleanup(func() { s.logOnFailure(t) })
	// Three of them stay on the node that is drained: one more than a
	// drain moves at once, so one waits its turn.
	names[kai] = "Kai"
	people := []int64{mina, omar, lena, kai}
	s.greet(people)
	s.to = s.c.addAgent("agent-b", s.c.portMin+100)
	t.Logf("%s: tenants of %d people running on %s; %s joined", time.Since(began).Round(time.Millisecond),
		len(people), s.from, s.to)

	// Both nodes' containers, from before the first move to the end.
	watch := s.c.watchRunning(3*time.Minute, s.from, s.to)
	s.moveWhileTalking(t, people[0], people[1:])
	if !t.Failed() {
		s.talk(people[:1], "after the move")
		s.drainWhileTalking(t, people, people[1:])
	}
	if !t.Failed() {
		s.talk(people, "after the drain")
		for _, p := range people {
			s.c.checkOnly(s.to, tenantKey(p), s.acked[p])
		}
	}
	checkNeverTwo(t, watch)
	s.checkRepliesStayed(t)
	t.Logf("whole test: %s", time.Since(began).Round(time.Millisecond))
}

// kai is a fourth person, for the drain's queue.
const kai int64 = 5010000004

// moveScene is what the steps of TestMoveAndDrainEndToEnd share.
type moveScene struct {
	c        *cluster
	u        *updates
	from, to string // the node every tenant starts on, and the one that joins later
	// before is every tenant's placement before anything moved.
	before map[string]*zakiv1.Placement
	// acked holds every update the router acknowledged, by person, in the
	// order sent: each was sent after the previous one was answered.
	acked map[int64][]int64
}

// greet has each person say two things, and waits until every tenant
// replied and runs on s.from.
func (s *moveScene) greet(people []int64) {
	want := newExpectation()
	var tenants []string
	for _, p := range people {
		for i := range 2 {
			text := fmt.Sprintf("hello %d from %s", i, names[p])
			id, body := s.u.private(p, text)
			s.c.send(id, body)
			want.add(p, id, p, text)
			s.acked[p] = append(s.acked[p], id)
		}
		tenants = append(tenants, tenantKey(p))
	}
	s.c.waitForReplies(want, 90*time.Second)
	s.before = s.c.waitPlaced(tenants, s.from, 30*time.Second)
}

// talk has each person say one thing and waits for every reply: the
// containers where they are now take updates and reach the Bot API front.
func (s *moveScene) talk(people []int64, label string) {
	want := newExpectation()
	for _, p := range people {
		text := fmt.Sprintf("%s from %s", label, names[p])
		id, body := s.u.private(p, text)
		s.c.send(id, body)
		want.add(p, id, p, text)
		s.acked[p] = append(s.acked[p], id)
	}
	s.c.waitForReplies(want, 60*time.Second)
}

// checkRepliesStayed fails on a reply in a chat other than the one its text
// came from (every text the test sends is unique and ends with its sender's
// name), and on a reply sent twice.
func (s *moveScene) checkRepliesStayed(t *testing.T) {
	seen := map[string]bool{}
	for _, call := range s.c.standin.Calls() {
		if call.Method != "sendMessage" {
			continue
		}
		if !strings.HasSuffix(call.Text, " from "+names[call.ChatID]) {
			t.Errorf("chat %d (%s) got the reply %q", call.ChatID, names[call.ChatID], call.Text)
		}
		if seen[call.Text] {
			t.Errorf("chat %d got the reply %q twice", call.ChatID, call.Text)
		}
		seen[call.Text] = true
	}
	t.Logf("%d replies, each once and in its own chat", len(seen))
}

// moveWhileTalking moves mover's tenant from s.from to s.to with the CLI
// while mover's messages keep coming, and checks where everything ended.
func (s *moveScene) moveWhileTalking(t *testing.T, mover int64, others []int64) {
	c, id := s.c, tenantKey(mover)
	out := s.whileTalking(t, []int64{mover}, "while moving", 40,
		"tenants", "move", id, "--to", s.to, "--deadline", "2m")

	gen := s.before[id].GetGeneration() + 1
	checkMoveOutput(t, out, id, s.from, s.to, gen)
	p := c.placements()[id]
	if p.GetNodeId() != s.to || p.GetMove() != nil || p.GetGeneration() != gen ||
		p.GetState() != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING {
		t.Errorf("after the move the placement is %v, want RUNNING on %s at generation %d", p, s.to, gen)
	}
	// What the old container accepted came in the volume, the rest was
	// parked and delivered after the flip: all of it, once, in order.
	c.checkOnly(s.to, id, s.acked[mover])
	for _, o := range others {
		c.checkOnly(s.from, tenantKey(o), s.acked[o])
	}
	c.waitGone(s.from, id)
}

// drainWhileTalking drains s.from with the CLI while the messages of the
// people on it keep coming, and checks where everything ended.
func (s *moveScene) drainWhileTalking(t *testing.T, people, onFrom []int64) {
	c := s.c
	out := s.whileTalking(t, onFrom, "while draining", 20, "nodes", "drain", s.from, "--deadline", "3m")
	if line := fmt.Sprintf("%s: drained: %d of %d tenants moved", s.from, len(onFrom), len(onFrom)); !strings.Contains(out, line) {
		t.Errorf("zaki ctl nodes drain did not print %q", line)
	}

	var ids []string
	for _, p := range onFrom {
		ids = append(ids, tenantKey(p))
	}
	after := c.waitPlaced(ids, s.to, 10*time.Second)
	for _, id := range ids {
		if got, want := after[id].GetGeneration(), s.before[id].GetGeneration()+1; got != want {
			t.Errorf("tenant %s is at generation %d after the drain, want %d", id, got, want)
		}
	}
	n := c.nodeStatus(s.from)
	if n.GetNode().GetState() != zakiv1.NodeState_NODE_STATE_DRAINING || n.GetTenants() != 0 {
		t.Errorf("drained node %s is %s with %d tenants, want DRAINING with 0", s.from,
			n.GetNode().GetState(), n.GetTenants())
	}
	for _, p := range people {
		c.checkOnly(s.to, tenantKey(p), s.acked[p])
	}
	for _, id := range ids {
		c.waitGone(s.from, id)
	}
}

// whileTalking runs `zaki ctl args...` while people's messages go through
// the router one every 50ms: a few before it starts, on while it runs, a
// few after it ends, and at least least in all. The CLI must exit 0, every
// message must be acknowledged, and some must have been parked: the move
// was seen by the router. It returns what the CLI printed.
func (s *moveScene) whileTalking(t *testing.T, people []int64, label string, least int, args ...string) string {
	c := s.c
	stop := make(chan struct{})
	f := c.startFeed(s.u, people, label, 50*time.Millisecond, least, 5, 300, stop)
	waitUntil(t, 30*time.Second, "the first updates "+label, func() error {
		if n := f.sent.Load(); n < 3 {
			return fmt.Errorf("%d sent", n)
		}
		return nil
	})
	parked := metric(t, c.router.opsAddr, "zaki_router_updates_parked_total")
	sentBefore, start := f.sent.Load(), time.Now()
	out, err := c.ctlErr(args...)
	took, sentDuring := time.Since(start), f.sent.Load()-sentBefore
	parked = metric(t, c.router.opsAddr, "zaki_router_updates_parked_total") - parked
	close(stop)
	got, errs := f.wait(60 * time.Second)
	t.Logf("zaki ctl %s took %s; %d updates sent before it, %d while it ran (%v parked), %d in all:\n%s",
		strings.Join(args[:2], " "), took.Round(time.Millisecond), sentBefore, sentDuring, parked,
		f.sent.Load(), out)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range errs {
		t.Errorf("the router did not acknowledge an update %s: %v", label, err)
	}
	for _, p := range people {
		s.acked[p] = append(s.acked[p], got[p]...)
	}
	if parked == 0 {
		t.Errorf("no update was parked while zaki ctl %s ran: the router never saw a tenant moving", args[0])
	}
	return out
}

// logOnFailure logs the processes' lines, less the per-call ones, when the
// test failed: what each part did is how a failure here is understood.
func (s *moveScene) logOnFailure(t *testing.T) {
	if !t.Failed() {
		return
	}
	var keep []string
	for _, l := range strings.Split(s.c.logs.all(), "\n") {
		if !strings.Contains(l, "grpc call:") && !strings.Contains(l, "grpc stream ended:") {
			keep = append(keep, l)
		}
	}
	t.Logf("the processes' logs, without per-call lines:\n%s", strings.Join(keep, "\n"))
}

// checkMoveOutput checks what `zaki ctl tenants move` printed: the start,
// the phases it saw in their order, and the end on the target.
func checkMoveOutput(t *testing.T, out, id, from, to string, gen uint64) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Errorf("zaki ctl tenants move printed %d lines, want its start, its phases and its end:\n%s",
			len(lines), out)
		return
	}
	first := fmt.Sprintf("tenant %s: moving from %s to %s (generation %d)", id, from, to, gen)
	if lines[0] != first {
		t.Errorf("first line %q, want %q", lines[0], first)
	}
	last := fmt.Sprintf("tenant %s: running on %s (generation %d) after ", id, to, gen)
	if !strings.HasPrefix(lines[len(lines)-1], last) {
		t.Errorf("last line %q, want it to start %q", lines[len(lines)-1], last)
	}
	// The phases in between are polled every 500ms, so a short one may go
	// unseen; those seen must come in order. The first poll follows the
	// move's start at once, while the source is still stopping, so at
	// least one is seen.
	order := []string{
		fmt.Sprintf("tenant %s: stopping on %s", id, from),
		fmt.Sprintf("tenant %s: copying to %s", id, to),
	}
	at := -1
	for _, l := range lines[1 : len(lines)-1] {
		i := slices.IndexFunc(order, func(p string) bool { return strings.HasPrefix(l, p) })
		if i < 0 || i < at {
			t.Errorf("unexpected or out-of-order line %q", l)
			continue
		}
		at = i
	}
	if at < 0 {
		t.Errorf("no phase line between the first and the last:\n%s", out)
	}
}

// checkNeverTwo stops the watch and fails on any instant it saw two
// containers of one tenant running.
func checkNeverTwo(t *testing.T, w *runningWatch) {
	t.Helper()
	seen, errs, nEvents, nSamples := w.stop()
	t.Logf("watched %d start/die events and %d samples of running containers", nEvents, nSamples)
	for _, err := range errs {
		t.Error(err)
	}
	for _, s := range seen {
		t.Error(s)
	}
	if nEvents == 0 || nSamples == 0 {
		t.Errorf("the watch saw %d start/die events and %d samples: it watched nothing", nEvents, nSamples)
	}
}

// waitGone waits until node holds nothing of tenant: the move's source
// discards its stopped container and its volume (the person's data) once
// the placement has flipped.
func (c *cluster) waitGone(node, tenant string) {
	c.t.Helper()
	waitUntil(c.t, 30*time.Second, "tenant "+tenant+"'s container and volume gone from "+node, func() error {
		if list := c.containersOn(node)[tenant]; len(list) > 0 {
			return fmt.Errorf("%d container(s) left: %s (%s)", len(list), list[0].Names, list[0].State)
		}
		name := agent.ObjectName(node, tenant)
		if _, err := c.docker.VolumeInspect(context.Background(), name); err == nil {
			return fmt.Errorf("volume %s is still there", name)
		}
		return nil
	})
}
