package controlplane

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zaki-platform/zaki/internal/every"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Agent liveness across replicas. An agent holds its session with any
// replica; while it does, that replica keeps alive/<node> = "<replica id>"
// under its own session lease. When the session ends the replica says
// goodbye: it rewrites the value to "<replica id> <ms>", how long the node
// had been silent, then deletes the key. Every replica watches these keys
// (aliveSet): ListNodes and the scheduler see any replica's sessions, and
// the leader judges nodes by them (heartbeat.go).
//
//	key put                      -> held: heard now
//	goodbye, then deleted        -> heard <ms> before the goodbye
//	deleted without a goodbye    -> lost: its replica stopped, crashed or lost
//	                                etcd; UNKNOWN, with the extended grace
//	                                counted from then (its agent is most
//	                                likely reconnecting elsewhere)
const alivePrefix = prefix + "alive/"

func aliveKey(node string) string { return alivePrefix + node }

// goodbyeValue is the value a replica leaves when it ends a session.
func goodbyeValue(replica string, silent time.Duration) string {
	return replica + " " + strconv.FormatInt(max(0, silent.Milliseconds()), 10)
}

// parseAlive reads an alive value: its holder, and for a goodbye how long
// the node had been silent.
func parseAlive(v []byte) (replica string, silent time.Duration, goodbye bool) {
	replica, ms, goodbye := strings.Cut(string(v), " ")
	if !goodbye {
		return replica, 0, false
	}
	n, _ := strconv.ParseInt(ms, 10, 64)
	return replica, time.Duration(n) * time.Millisecond, true
}

// nodeAlive is what the alive keys say of one node.
type nodeAlive struct {
	// holder is the replica holding its session; "" when none does.
	holder string
	// lastHeard is when it last spoke, from a goodbye; zero otherwise.
	lastHeard time.Time
	// lostAt is when its key vanished without a goodbye; zero otherwise.
	lostAt time.Time
	// rev is the revision of the last change applied; an older one, from
	// a watch behind this replica's own writes, is ignored.
	rev int64
}

// aliveSet is every replica's view of the alive keys, kept by list-then-
// watch, and written through by this replica's own changes so that it
// knows of them before the watch brings them back. Times are this replica's
// clock when it learnt of each change.
type aliveSet struct {
	now func() time.Time
	// held is called when a node gains a session anywhere (a new place to
	// schedule); it must not block.
	held func()

	mu     sync.Mutex
	nodes  map[string]*nodeAlive // guarded by mu
	synced bool                  // guarded by mu; a list has completed
}

func newAliveSet(now func() time.Time, held func()) *aliveSet {
	return &aliveSet{now: now, held: held, nodes: map[string]*nodeAlive{}}
}

// liveness is what the judge knows of node at now (heartbeat.go), and
// whether a replica holds its session. graceStart is when the current
// leader took over: a node not heard from since is UNKNOWN until the grace
// has passed.
func (a *aliveSet) liveness(node string, now, graceStart time.Time) (liveness, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.nodes[node]
	switch {
	case n == nil:
		return liveness{since: graceStart}, false
	case n.holder != "":
		return liveness{lastHeard: now}, true
	case !n.lastHeard.IsZero() && !n.lastHeard.Before(graceStart):
		return liveness{lastHeard: n.lastHeard}, false
	default:
		return liveness{since: later(graceStart, n.lostAt)}, false
	}
}

// heard is when node was last heard of as far as the alive keys tell: now
// while a replica holds its session, its goodbye's time after one, zero
// when unknown.
func (a *aliveSet) heard(node string) (bool, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.nodes[node]
	switch {
	case n == nil:
		return false, time.Time{}
	case n.holder != "":
		return true, a.now()
	default:
		return false, n.lastHeard
	}
}

// holders is the set of nodes whose session some replica holds.
func (a *aliveSet) holders() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]bool{}
	for id, n := range a.nodes {
		if n.holder != "" {
			out[id] = true
		}
	}
	return out
}

func (a *aliveSet) isSynced() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.synced
}

// reset replaces the view with a listing at revision rev. A node held
// before but absent now lost its key while this replica was not watching:
// it is lost as of now, since when it went is not known.
func (a *aliveSet) reset(kvs []*mvccpb.KeyValue, rev int64) {
	now := a.now()
	listed := map[string]bool{}
	a.mu.Lock()
	for _, kv := range kvs {
		id := strings.TrimPrefix(string(kv.Key), alivePrefix)
		listed[id] = true
		a.putLocked(id, kv.Value, kv.ModRevision, now)
	}
	for id, n := range a.nodes {
		if !listed[id] && n.holder != "" && n.rev < rev {
			*n = nodeAlive{lostAt: now, rev: rev}
		}
	}
	a.synced = true
	a.mu.Unlock()
}

// apply updates the view with one watch event.
func (a *aliveSet) apply(ev *clientv3.Event) {
	id := strings.TrimPrefix(string(ev.Kv.Key), alivePrefix)
	if ev.Type == mvccpb.PUT {
		a.record(id, ev.Kv.Value, ev.Kv.ModRevision)
		return
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.node(id)
	if ev.Kv.ModRevision <= n.rev {
		return
	}
	n.rev = ev.Kv.ModRevision
	if n.holder == "" {
		return // after a goodbye, or already lost
	}
	if ev.PrevKv != nil {
		if _, silent, goodbye := parseAlive(ev.PrevKv.Value); goodbye {
			*n = nodeAlive{lastHeard: now.Add(-silent), rev: n.rev}
			return
		}
	}
	*n = nodeAlive{lostAt: now, rev: n.rev}
}

// record applies a put of node's key at rev: from the watch, or written
// through by this replica.
func (a *aliveSet) record(node string, value []byte, rev int64) {
	a.mu.Lock()
	gained := a.putLocked(node, value, rev, a.now())
	a.mu.Unlock()
	if gained {
		a.held()
	}
}

// putLocked applies a put and reports whether the node gained a holder.
func (a *aliveSet) putLocked(id string, value []byte, rev int64, now time.Time) bool {
	n := a.node(id)
	if rev <= n.rev {
		return false
	}
	replica, silent, goodbye := parseAlive(value)
	if goodbye {
		*n = nodeAlive{lastHeard: now.Add(-silent), rev: rev}
		return false
	}
	gained := n.holder == ""
	*n = nodeAlive{holder: replica, rev: rev}
	return gained
}

// node is id's entry, made when missing; the caller holds mu.
func (a *aliveSet) node(id string) *nodeAlive {
	n := a.nodes[id]
	if n == nil {
		n = &nodeAlive{}
		a.nodes[id] = n
	}
	return n
}

// watch keeps the set current until ctx ends: list, then watch from the
// next revision; any failure lists again after a backoff.
func (a *aliveSet) watch(ctx context.Context, cli *clientv3.Client, log hclog.Logger) {
	every.Retry(ctx, 5*time.Second, func(ctx context.Context) error { return a.watchOnce(ctx, cli) },
		func(err error) { log.Warn("watching agent liveness, listing again", "error", err) })
}

func (a *aliveSet) watchOnce(ctx context.Context, cli *clientv3.Client) error {
	resp, err := cli.Get(ctx, alivePrefix, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("list agent liveness: %w", err)
	}
	a.reset(resp.Kvs, resp.Header.Revision)
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range cli.Watch(wctx, alivePrefix, clientv3.WithPrefix(),
		clientv3.WithRev(resp.Header.Revision+1), clientv3.WithPrevKV()) {
		if err := wr.Err(); err != nil {
			return err
		}
		for _, ev := range wr.Events {
			a.apply(ev)
		}
	}
	return fmt.Errorf("watch of agent liveness ended: %w", ctx.Err())
}

// nodeLiveness is what the judge knows of node id at now: heard now while
// this replica holds its session (its alive key may not have come back
// through the watch yet), else what the alive keys say.
func (c *Controller) nodeLiveness(id string, now time.Time) liveness {
	if c.sessions.holds(id) {
		return liveness{lastHeard: now}
	}
	l, _ := c.alive.liveness(id, now, c.rep.graceStart())
	return l
}

// holdAlive publishes that this replica holds node's session and returns
// the key's revision, which guards its goodbye.
func (c *Controller) holdAlive(ctx context.Context, node string) (int64, error) {
	lease := c.rep.lease()
	if lease == 0 {
		return 0, fmt.Errorf("%w: this control plane has no etcd session at the moment", errUnavailable)
	}
	resp, err := c.cli.Put(ctx, aliveKey(node), c.rep.id, clientv3.WithLease(lease))
	if err != nil {
		return 0, fmt.Errorf("%w: publish the session of node %s: %v", errUnavailable, node, err)
	}
	c.alive.record(node, []byte(c.rep.id), resp.Header.Revision)
	return resp.Header.Revision, nil
}

// aliveGoodbyeTimeout bounds a goodbye; one that fails is left to
// tidyAlive, or to the lease.
const aliveGoodbyeTimeout = 2 * time.Second

// releaseAlive says goodbye for a session that published node's key at
// rev: unless the key changed since (a newer session), it records how long
// the node had been silent, then deletes the key.
func (c *Controller) releaseAlive(node string, rev int64, silent time.Duration) {
	if c.gate.isDown() {
		return // it would only wait out its timeout; tidyAlive or the lease will do
	}
	ctx, cancel := context.WithTimeout(context.Background(), aliveGoodbyeTimeout)
	defer cancel()
	key := aliveKey(node)
	if lease := c.rep.lease(); lease != 0 {
		bye := goodbyeValue(c.rep.id, silent)
		resp, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, bye, clientv3.WithLease(lease))).Commit()
		if err != nil || !resp.Succeeded {
			c.log.Debug("no goodbye for a node's session", "node", node, "error", err)
			return
		}
		rev = resp.Header.Revision
		c.alive.record(node, []byte(bye), rev)
	}
	if _, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpDelete(key)).Commit(); err != nil {
		c.log.Debug("deleting a node's liveness key", "node", node, "error", err)
	}
}

// tidyAliveLoop runs tidyAlive at the start of a session and every TTL,
// until ctx ends.
func (c *Controller) tidyAliveLoop(ctx context.Context) {
	period := time.Duration(c.rep.ttl) * time.Second
	for {
		if err := c.tidyAlive(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("tidying agent liveness keys", "error", err)
		}
		t := time.NewTimer(period)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// tidyAlive makes this replica's alive keys match its sessions: a key left
// by a session that has ended (its goodbye failed) is deleted, and a session
// whose key is missing (a new etcd session replaced a lost lease) is
// published again, unless another replica now holds that node.
func (c *Controller) tidyAlive(ctx context.Context) error {
	resp, err := c.cli.Get(ctx, alivePrefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	local := c.sessions.aliveRevs()
	present := map[string]bool{}
	for _, kv := range resp.Kvs {
		node := strings.TrimPrefix(string(kv.Key), alivePrefix)
		present[node] = true
		replica, _, goodbye := parseAlive(kv.Value)
		if _, live := local[node]; replica != c.rep.id || goodbye || live {
			continue
		}
		if _, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision)).
			Then(clientv3.OpDelete(string(kv.Key))).Commit(); err != nil {
			return err
		}
	}
	for node, rev := range local {
		if present[node] || rev == 0 {
			continue // still there, elsewhere, or being published
		}
		lease := c.rep.lease()
		if lease == 0 {
			return nil
		}
		txn, err := c.cli.Txn(ctx).If(absent(aliveKey(node))).
			Then(clientv3.OpPut(aliveKey(node), c.rep.id, clientv3.WithLease(lease))).Commit()
		if err != nil {
			return err
		}
		if txn.Succeeded {
			c.sessions.republished(node, rev, txn.Header.Revision)
			c.alive.record(node, []byte(c.rep.id), txn.Header.Revision)
		}
	}
	return nil
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
