package controlplane

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/protobuf/proto"
)

// Leadership. Every replica holds an etcd session (a lease kept alive for
// ReplicaTTL) and campaigns in one election under it. The winner runs the
// leader-only loops (scheduling PENDING tenants, judging nodes, draining)
// under a context that ends the moment it stops leading, then campaigns
// again. Its writes are fenced (fence.go), so a deposed leader that has not
// noticed yet cannot write.
//
//	open a session (lease) -> register (replicas.go) -> campaign -won-> lead
//	      ^                                              ^              |
//	      | session lost                                 +--- key gone, etcd leaderless
//	      +----------------------------------------------------- lease expired
//
// Every other API is served by every replica: its writes are etcd
// transactions guarded by revisions, safe from anywhere.

// electionPrefix holds one key per campaigning replica, <prefix>/<lease
// hex>, each valued a marshalled ControlPlane; the oldest leads.
const electionPrefix = prefix + "leader"

// replica is this control plane's part in the cluster of replicas.
type replica struct {
	id   string
	info *zakiv1.ControlPlane // this replica, as registered; read-only
	self []byte               // info marshalled: the registry's and the election's value
	ttl  int                  // seconds

	// decided is closed once a leader is known: this replica, or another.
	decided     chan struct{}
	decidedOnce sync.Once

	mu sync.Mutex
	// session is the current etcd session; nil between sessions.
	session *concurrency.Session
	// leadKey and leadRev are this replica's election key and its create
	// revision while it leads ("" and 0 otherwise); leadSince is when it
	// took over.
	leadKey   string
	leadRev   int64
	leadSince time.Time
	// leaderKey is the current leader's election key as last observed, and
	// leaderSince when this replica saw it take over; leader is its value.
	leaderKey   string
	leaderSince time.Time
	leader      *zakiv1.ControlPlane
}

func newReplica(info *zakiv1.ControlPlane, ttl time.Duration) *replica {
	self, err := proto.Marshal(info)
	if err != nil {
		panic(fmt.Sprintf("marshal control plane %s: %v", info.Id, err)) // a gen message cannot fail
	}
	return &replica{id: info.Id, info: info, self: self, ttl: ttlSeconds(ttl), decided: make(chan struct{})}
}

// ttlSeconds rounds a TTL up to whole seconds, etcd's unit.
func ttlSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// lease is the current session's lease; 0 when there is none.
func (r *replica) lease() clientv3.LeaseID {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.session == nil {
		return 0
	}
	return r.session.Lease()
}

func (r *replica) setSession(s *concurrency.Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.session = s
}

// fence is this replica's election key and its create revision while it
// leads; "" when it does not.
func (r *replica) fence() (string, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leadKey, r.leadRev
}

// leading reports whether this replica believes it leads. Only the fence
// makes that safe to act on.
func (r *replica) leading() bool {
	key, _ := r.fence()
	return key != ""
}

// graceStart is when the current leader took over, as this replica saw it:
// a node not heard from since is UNKNOWN for the extended grace.
func (r *replica) graceStart() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leadKey != "" {
		return r.leadSince
	}
	return r.leaderSince
}

// leaderIdentity is the observed leader's id and address; "" when none is
// known.
func (r *replica) leaderIdentity() (id, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leader == nil {
		return "", ""
	}
	return r.leader.Id, r.leader.GrpcAddress
}

func (r *replica) startLeading(key string, rev int64, now time.Time) {
	r.mu.Lock()
	r.leadKey, r.leadRev, r.leadSince = key, rev, now
	r.leaderKey, r.leaderSince, r.leader = key, now, r.info
	r.mu.Unlock()
	r.decidedOnce.Do(func() { close(r.decided) })
}

func (r *replica) stopLeading() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leadKey, r.leadRev = "", 0
}

// observed records the leader's election key and value as seen by the
// observer. Seeing its own key does not decide anything: startLeading does.
func (r *replica) observed(key string, val []byte, own string, now time.Time) {
	cp := &zakiv1.ControlPlane{}
	if err := proto.Unmarshal(val, cp); err != nil {
		cp = &zakiv1.ControlPlane{Id: "(unreadable)"}
	}
	r.mu.Lock()
	if key != r.leaderKey {
		r.leaderKey, r.leaderSince = key, now
	}
	r.leader = cp
	r.mu.Unlock()
	if key != own {
		r.decidedOnce.Do(func() { close(r.decided) })
	}
}

// openSession opens an etcd session and registers this replica under its
// lease (replicas.go).
func (c *Controller) openSession(ctx context.Context) (*concurrency.Session, error) {
	s, err := concurrency.NewSession(c.cli, concurrency.WithTTL(c.rep.ttl), concurrency.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("%w: open an etcd session: %v", errUnavailable, err)
	}
	if err := c.register(ctx, s); err != nil {
		c.endSession(s)
		return nil, err
	}
	return s, nil
}

// endSession stops refreshing s's lease and revokes it, which deletes this
// replica's election key, registration and agents' liveness keys at once,
// so that another replica takes over without waiting for the TTL.
func (c *Controller) endSession(s *concurrency.Session) {
	s.Orphan()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.cli.Revoke(ctx, s.Lease()); err != nil {
		c.log.Debug("revoking the etcd session's lease", "error", err)
	}
}

// runReplica keeps this replica in the cluster until ctx ends, starting
// with session first: while it leads, loops runs under a context that ends
// when leadership is lost. A lost session is replaced after a backoff.
func (c *Controller) runReplica(ctx context.Context, first *concurrency.Session, loops func(context.Context)) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 200*time.Millisecond, 5*time.Second
	s := first
	for {
		began := time.Now()
		err := c.holdSession(ctx, s, loops)
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("lost this control plane's etcd session, opening another", "id", c.rep.id, "error", err)
		if time.Since(began) > time.Duration(c.rep.ttl)*time.Second {
			b.Reset()
		}
		for s = nil; s == nil; {
			t := time.NewTimer(b.NextBackOff())
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if s, err = c.openSession(ctx); err != nil {
				c.log.Warn("opening an etcd session", "id", c.rep.id, "error", err)
			}
		}
	}
}

// holdSession runs one etcd session: it keeps this replica's liveness keys
// (liveness.go) and its view of the leader current, and campaigns until the
// session is lost or ctx ends.
func (c *Controller) holdSession(ctx context.Context, s *concurrency.Session, loops func(context.Context)) error {
	defer c.endSession(s)
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() {
		select {
		case <-s.Done():
			cancel()
		case <-sctx.Done():
		}
	})
	c.rep.setSession(s)
	defer c.rep.setSession(nil)
	wg.Go(func() { c.tidyAliveLoop(sctx) })
	wg.Go(func() { c.observeLeader(sctx, s) })
	err := c.campaign(sctx, s, loops)
	select {
	case <-s.Done():
		return fmt.Errorf("%w: the session's lease expired (etcd unreachable for %ds?)", errUnavailable, c.rep.ttl)
	default:
		return err
	}
}

// campaign campaigns, leads when elected, and campaigns again when
// leadership is lost, until ctx ends.
func (c *Controller) campaign(ctx context.Context, s *concurrency.Session, loops func(context.Context)) error {
	el := concurrency.NewElection(s, electionPrefix)
	for ctx.Err() == nil {
		if err := el.Campaign(ctx, string(c.rep.self)); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: campaign for leader: %v", errUnavailable, err)
		}
		if err := c.lead(ctx, el.Key(), el.Rev(), loops); err != nil && ctx.Err() == nil {
			c.log.Warn("stopped leading", "id", c.rep.id, "error", err)
		}
		// A pause, so that an etcd failing fast does not make this spin.
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return ctx.Err()
}

// lead runs loops while this replica holds the election key (key, rev):
// until the key is deleted or changes hands, or etcd loses its own leader
// (the watch requires one), or ctx ends.
func (c *Controller) lead(ctx context.Context, key string, rev int64, loops func(context.Context)) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Confirm the key is still ours, and watch it from now on: its create
	// revision may be older than etcd's compacted history.
	resp, err := c.cli.Get(lctx, key)
	if err != nil {
		return fmt.Errorf("read the election key: %w", err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != rev {
		return errors.New("the election key is gone")
	}
	wch := c.cli.Watch(clientv3.WithRequireLeader(lctx), key, clientv3.WithRev(resp.Header.Revision+1))
	c.rep.startLeading(key, rev, c.now())
	defer c.rep.stopLeading()
	c.log.Info("leading the control planes", "id", c.rep.id)
	done := make(chan error, 1)
	go func() { done <- watchLeadership(wch); cancel() }()
	loops(lctx)
	cancel()
	err = <-done
	c.log.Info("no longer leading", "id", c.rep.id, "reason", err)
	return err
}

// watchLeadership returns why leadership ended: the key deleted, or the
// watch broken (etcd without a leader, or ctx ended).
func watchLeadership(wch clientv3.WatchChan) error {
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return fmt.Errorf("watching the election key: %w", err)
		}
		for _, ev := range resp.Events {
			if ev.Type == mvccpb.DELETE {
				return errors.New("the election key was deleted")
			}
		}
	}
	return errors.New("stopped")
}

// observeLeader keeps the replica's view of who leads current, until ctx
// ends. Observe ends when its watch breaks; it is restarted after a pause.
func (c *Controller) observeLeader(ctx context.Context, s *concurrency.Session) {
	el := concurrency.NewElection(s, electionPrefix)
	own := fmt.Sprintf("%s/%x", electionPrefix, s.Lease())
	for ctx.Err() == nil {
		for resp := range el.Observe(ctx) {
			c.rep.observed(string(resp.Kvs[0].Key), resp.Kvs[0].Value, own, c.now())
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// leaderLoops are what only the leader runs; they end when ctx does.
func (c *Controller) leaderLoops(ctx context.Context) {
	c.kickPending() // tenants made PENDING while no one led
	var wg sync.WaitGroup
	wg.Go(func() { c.runPending(ctx, c.pendingRetry) })
	wg.Go(func() { c.runHeartbeats(ctx) })
	wg.Go(func() { c.watchPending(ctx) })
	wg.Go(func() { c.runDrains(ctx) })
	wg.Go(func() { c.runCertPrune(ctx) })
	wg.Wait()
}
