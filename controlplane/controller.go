package controlplane

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/every"
	"github.com/zaki-platform/zaki/profile"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// Controller is the control plane's local implementation: every gRPC service
// is a thin adapter over it, and in-process callers may use it directly.
type Controller struct {
	cli     *clientv3.Client
	log     hclog.Logger
	now     func() time.Time
	metrics *metrics

	heartbeat        time.Duration
	progressInterval time.Duration
	defaultProfile   string

	// schedMu serialises read-schedule-commit within this process so that
	// concurrent creations do not all race for the same lowest port; the
	// etcd transaction guards keep it correct against any other writer.
	schedMu sync.Mutex
	// kick asks the pending loop to retry PENDING placements now.
	kick chan struct{}
	// pendingRetry is how often PENDING placements are retried unkicked.
	pendingRetry time.Duration
	// drains is the drain loop's kick and memory (drain.go).
	drains *drains

	// sessions are the agent sessions, this replica's and (through alive)
	// the others'.
	sessions *sessions
	// alive is what the alive keys say of every replica's agent sessions
	// (liveness.go).
	alive *aliveSet
	// rep is this replica among the control planes: its etcd session and
	// leadership (leader.go). Set by Start.
	rep *replica
	// gate fails calls while etcd does not answer (etcdgate.go). Set by Start.
	gate *etcdGate
	// trust is the cluster CA, join tokens and revoked certificates (trust.go).
	trust *trust
	// fleet is node liveness, registration limits, port cooldown and the
	// scheduler policy (fleet.go).
	fleet *fleet
	// profiles resolves assistant profiles; profile.Lookup unless a test
	// sets it.
	profiles profileLookup
	// base ends every stream when the control plane stops, so that a
	// graceful gRPC stop does not wait for hours-long sessions.
	base context.Context
}

func newController(base context.Context, cli *clientv3.Client, cfg Config, m *metrics) *Controller {
	profiles := cfg.profiles
	if profiles == nil {
		profiles = profile.Lookup
	}
	c := &Controller{
		base:             base,
		cli:              cli,
		log:              cfg.Logger,
		now:              cfg.Now,
		metrics:          m,
		heartbeat:        cfg.HeartbeatPeriod,
		progressInterval: cfg.ProgressInterval,
		defaultProfile:   cfg.DefaultProfile,
		kick:             make(chan struct{}, 1),
		pendingRetry:     cfg.pendingRetry,
		drains:           newDrains(),
		fleet:            newFleet(cfg),
		profiles:         profiles,
	}
	c.alive = newAliveSet(cfg.Now, c.kickPending)
	c.sessions = newSessions(m, c.alive)
	return c
}

// kickPending asks the pending loop for a pass without waiting for it.
func (c *Controller) kickPending() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// runPending retries PENDING placements every period and whenever kicked,
// until ctx ends.
func (c *Controller) runPending(ctx context.Context, period time.Duration) {
	every.RunOrKick(ctx, period, c.kick, func(ctx context.Context) {
		if err := c.schedulePending(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("retrying pending placements", "error", err)
		}
	})
}

// watchPending kicks the pending loop whenever any replica writes a
// PENDING placement or a node record, until ctx ends: a tenant created on a
// replica that does not lead waits for the leader to place it, and the
// retry period alone would be slow. Only the leader runs it.
func (c *Controller) watchPending(ctx context.Context) {
	every.Retry(ctx, c.pendingRetry, c.watchPendingOnce, func(err error) {
		c.log.Debug("watching for pending placements, watching again", "error", err)
	})
}

func (c *Controller) watchPendingOnce(ctx context.Context) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	placements := c.cli.Watch(wctx, placementPrefix, clientv3.WithPrefix(), clientv3.WithFilterDelete())
	nodes := c.cli.Watch(wctx, nodesPrefix, clientv3.WithPrefix(), clientv3.WithFilterDelete())
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case resp, ok = <-placements:
		case resp, ok = <-nodes:
		}
		if !ok {
			return errors.New("watch closed")
		}
		if err := resp.Err(); err != nil {
			return err
		}
		if slices.ContainsFunc(resp.Events, wantsScheduling) {
			c.kickPending()
			// A node set DRAINING, or a move finished, through another
			// replica: the drain loop looks again now, not a period later.
			c.kickDrains()
		}
	}
}

// wantsScheduling reports whether a written key may give the scheduler
// work: a PENDING placement, or a node (registered, or its state changed).
func wantsScheduling(ev *clientv3.Event) bool {
	if strings.HasPrefix(string(ev.Kv.Key), nodesPrefix) {
		return true
	}
	p := &zakiv1.Placement{}
	return proto.Unmarshal(ev.Kv.Value, p) == nil && p.State == zakiv1.PlacementState_PLACEMENT_STATE_PENDING
}

// streamContext is ctx, also ended when the control plane stops.
func (c *Controller) streamContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.base, cancel)
	return ctx, func() { stop(); cancel() }
}

// loadView reads the cluster state at one revision.
func (c *Controller) loadView(ctx context.Context) (*view, error) {
	return loadView(ctx, c.cli, c.profiles)
}
