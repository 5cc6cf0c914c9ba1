package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/every"
)

// addAgent starts one more agent, on a node of its own with tenant ports
// from portMin, and returns its node id. The node's Docker objects are
// removed after the test, once its agent has stopped.
func (c *cluster) addAgent(name string, portMin int) string {
	c.t.Helper()
	node := "e2e-" + strings.ToLower(rand.Text()[:8])
	c.t.Cleanup(func() { c.removeNodeObjects(node) })
	p := c.agentProc(name, node, c.t.TempDir(), portMin)
	p.start(c.t, c.logs)
	return node
}

// placements reads every tenant's placement from `zaki ctl tenants -o json`.
func (c *cluster) placements() map[string]*zakiv1.Placement {
	c.t.Helper()
	var resp zakiv1.ListTenantsResponse
	c.ctlJSON(&resp, "tenants")
	out := map[string]*zakiv1.Placement{}
	for _, ts := range resp.GetTenants() {
		out[ts.GetTenant().GetId()] = ts.GetPlacement()
	}
	return out
}

// nodeStatus reads node's line of `zaki ctl nodes -o json`.
func (c *cluster) nodeStatus(node string) *zakiv1.NodeStatus {
	c.t.Helper()
	var resp zakiv1.ListNodesResponse
	c.ctlJSON(&resp, "nodes")
	for _, n := range resp.GetNodes() {
		if n.GetNode().GetId() == node {
			return n
		}
	}
	c.t.Fatalf("node %s is not in zaki ctl nodes", node)
	return nil
}

// ctlJSON reads `zaki ctl WHAT -o json` into m.
func (c *cluster) ctlJSON(m proto.Message, what string) {
	c.t.Helper()
	out := c.ctl(what, "-o", "json")
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(out), m); err != nil {
		c.t.Fatalf("zaki ctl %s -o json: %v\n%s", what, err, out)
	}
}

// waitPlaced waits until every tenant in ids is RUNNING on node, with no
// move in flight.
func (c *cluster) waitPlaced(ids []string, node string, timeout time.Duration) map[string]*zakiv1.Placement {
	c.t.Helper()
	var ps map[string]*zakiv1.Placement
	waitUntil(c.t, timeout, "tenants running on "+node, func() error {
		ps = c.placements()
		for _, id := range ids {
			p := ps[id]
			if p.GetNodeId() != node || p.GetMove() != nil ||
				p.GetState() != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING {
				return fmt.Errorf("tenant %s: %v", id, p)
			}
		}
		return nil
	})
	return ps
}

// waitReceived waits until the one container of tenant on node has
// durably accepted every update in want, and returns what it accepted.
func (c *cluster) waitReceived(node, tenant string, want []int64, timeout time.Duration) []int64 {
	c.t.Helper()
	var got []int64
	waitUntil(c.t, timeout, "tenant "+tenant+"'s updates on node "+node, func() error {
		list := c.containersOn(node)[tenant]
		if len(list) != 1 {
			return fmt.Errorf("%d containers", len(list))
		}
		var err error
		if got, err = c.received(list[0].ID); err != nil {
			return err
		}
		for _, id := range want {
			if !slices.Contains(got, id) {
				return fmt.Errorf("update %d not accepted yet (%d of %d there)", id, len(got), len(want))
			}
		}
		return nil
	})
	return got
}

// feed sends private messages from people in turn through the router's
// webhook, one every gap, each after the previous was answered, from a
// goroutine of its own: at least least, then on until stop is closed, and
// tail more after that; never more than most. Every answer must be 2xx.
type feed struct {
	done chan struct{} // closed when the goroutine has returned
	sent atomic.Int64

	mu   sync.Mutex // guards the fields below
	ids  map[int64][]int64
	errs []error
}

func (c *cluster) startFeed(u *updates, people []int64, label string, gap time.Duration,
	least, tail, most int, stop <-chan struct{}) *feed {
	f := &feed{done: make(chan struct{}), ids: map[int64][]int64{}}
	go func() {
		defer close(f.done)
		after := -1 // updates sent since stop was closed; -1 while open
		for i := 0; i < most && (i < least || after < tail); i++ {
			if after < 0 {
				select {
				case <-stop:
					after = 0
				default:
				}
			}
			who := people[i%len(people)]
			id, body := u.private(who, fmt.Sprintf("%s %d from %s", label, i, names[who]))
			code, err := c.postErr(c.secret, body)
			f.mu.Lock()
			switch {
			case err != nil:
				f.errs = append(f.errs, fmt.Errorf("update %d: %w", id, err))
			case code/100 != 2:
				f.errs = append(f.errs, fmt.Errorf("update %d: webhook answered %d", id, code))
			default:
				f.ids[who] = append(f.ids[who], id)
			}
			f.mu.Unlock()
			f.sent.Add(1)
			if after >= 0 {
				after++
			}
			time.Sleep(gap)
		}
	}()
	return f
}

// wait waits for the feed's goroutine and returns the acknowledged update
// ids by person, in the order sent, and every failure.
func (f *feed) wait(timeout time.Duration) (map[int64][]int64, []error) {
	select {
	case <-f.done:
	case <-time.After(timeout):
		return nil, []error{fmt.Errorf("the feed did not end within %s", timeout)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ids, f.errs
}

// runningWatch records, for each tenant, how many of its containers on the
// test's nodes ran at once: from the engine's start and die events, in the
// order the engine reports them, and from a list of running containers
// taken every sampleGap. Either seeing two is a broken promise.
type runningWatch struct {
	nodes  map[string]bool
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu      sync.Mutex                 // guards the fields below
	running map[string]map[string]bool // tenant -> ids of running containers, from events
	events  int
	samples int
	// worst is each tenant's most containers running at once; seen says
	// when and which (the first 20 times).
	worst map[string]int
	seen  []string
	errs  []error
}

const sampleGap = 50 * time.Millisecond

// watchRunning starts watching the tenants' containers on nodes until stop
// is called, limit passes or the test ends.
func (c *cluster) watchRunning(limit time.Duration, nodes ...string) *runningWatch {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	w := &runningWatch{nodes: map[string]bool{}, cancel: cancel,
		running: map[string]map[string]bool{}, worst: map[string]int{}}
	for _, n := range nodes {
		w.nodes[n] = true
	}
	tenants := filters.NewArgs(filters.Arg("type", "container"), filters.Arg("label", "zaki.tenant"))
	// Subscribed before the first list, so no change falls between them.
	msgs, errs := c.docker.Events(ctx, events.ListOptions{Filters: tenants})
	first, err := c.runningNow(ctx)
	if err != nil {
		cancel()
		c.t.Fatal(err)
	}
	for _, s := range first {
		if w.nodes[s.Labels["zaki.node"]] {
			w.apply(s.Labels["zaki.tenant"], s.ID, true, "at the start")
		}
	}
	c.t.Cleanup(func() { w.stop() })
	w.done.Add(2)
	go func() {
		defer w.done.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				if ctx.Err() == nil {
					w.fail(fmt.Errorf("docker events: %w", err))
				}
				return
			case m := <-msgs:
				w.event(m)
			}
		}
	}()
	go func() {
		defer w.done.Done()
		every.Run(ctx, sampleGap, func(ctx context.Context) {
			list, err := c.runningNow(ctx)
			if err != nil {
				if ctx.Err() == nil {
					w.fail(err)
				}
				return
			}
			w.sample(list)
		})
	}()
	return w
}

// runningNow lists the running tenant containers of every node.
func (c *cluster) runningNow(ctx context.Context) ([]container.Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := c.docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", "zaki.tenant"), filters.Arg("status", "running"))})
	if err != nil {
		return nil, fmt.Errorf("list running containers: %w", err)
	}
	return list, nil
}

func (w *runningWatch) event(m events.Message) {
	a := m.Actor.Attributes
	up := m.Action == events.ActionStart
	if !w.nodes[a["zaki.node"]] || !up && m.Action != events.ActionDie {
		return
	}
	w.mu.Lock()
	w.events++
	w.mu.Unlock()
	w.apply(a["zaki.tenant"], m.Actor.ID, up, string(m.Action)+" event")
}

// apply records that container id of tenant started or ended.
func (w *runningWatch) apply(tenant, id string, up bool, why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	set := w.running[tenant]
	if set == nil {
		set = map[string]bool{}
		w.running[tenant] = set
	}
	if !up {
		delete(set, id)
		return
	}
	set[id] = true
	w.noteLocked(tenant, len(set), why)
}

// sample records one list of running containers.
func (w *runningWatch) sample(list []container.Summary) {
	count := map[string]int{}
	for _, s := range list {
		if w.nodes[s.Labels["zaki.node"]] {
			count[s.Labels["zaki.tenant"]]++
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples++
	for tenant, n := range count {
		w.noteLocked(tenant, n, "sample")
	}
}

func (w *runningWatch) noteLocked(tenant string, n int, why string) {
	if n > w.worst[tenant] {
		w.worst[tenant] = n
	}
	if n > 1 && len(w.seen) < 20 {
		w.seen = append(w.seen, fmt.Sprintf("%s: tenant %s had %d containers running (%s)",
			time.Now().Format("15:04:05.000"), tenant, n, why))
	}
}

func (w *runningWatch) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs = append(w.errs, err)
}

// stop ends the watch and returns what it saw: violations, failures, and
// how many events and samples it looked at.
func (w *runningWatch) stop() (seen []string, errs []error, nEvents, nSamples int) {
	w.cancel()
	w.done.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen, w.errs, w.events, w.samples
}

// checkOnly fails unless tenant's container on node accepted exactly want,
// in order.
func (c *cluster) checkOnly(node, tenant string, want []int64) {
	c.t.Helper()
	got := c.waitReceived(node, tenant, want, 60*time.Second)
	if !slices.Equal(got, want) {
		c.t.Errorf("tenant %s on node %s accepted %d updates %v\nwant %d, once each, in order %v",
			tenant, node, len(got), got, len(want), want)
	}
}

// tenantKey is a person's tenant id.
func tenantKey(user int64) string { return strconv.FormatInt(user, 10) }
