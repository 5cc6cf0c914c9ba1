package controlplane

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zaki-platform/zaki/profile"
	clientv3 "go.etcd.io/etcd/client/v3"
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

	sessions *sessions
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
	return &Controller{
		base:             base,
		cli:              cli,
		log:              cfg.Logger,
		now:              cfg.Now,
		metrics:          m,
		heartbeat:        cfg.HeartbeatPeriod,
		progressInterval: cfg.ProgressInterval,
		defaultProfile:   cfg.DefaultProfile,
		kick:             make(chan struct{}, 1),
		sessions:         newSessions(m),
		fleet:            newFleet(cfg),
		profiles:         profiles,
	}
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
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
		}
		if err := c.schedulePending(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("retrying pending placements", "error", err)
		}
	}
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
