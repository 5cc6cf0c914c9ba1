package router

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// parkTimeout bounds one ParkUpdate call.
const parkTimeout = 10 * time.Second

// delivery hands updates to containers, one tenant at a time and in order,
// with no tenant ever waiting on another. An update goes straight to the
// container when its route is RUNNING, the cache is fresh and nothing of that
// tenant is parked; otherwise it is parked, and a per-tenant drainer (drain.go)
// delivers the parked updates in update_id order once the container can take
// them. Containers ignore a repeated update_id, so a redelivery after a lost
// answer is harmless.
type delivery struct {
	tenants  zakiv1.TenantServiceClient
	cache    *routeCache
	client   *http.Client
	timeout  time.Duration
	retryMin time.Duration
	m        *metrics
	log      hclog.Logger
	ctx      context.Context // the router's life; drainers end with it
	wg       *sync.WaitGroup

	// discovered is set once the backlogs left from before this process
	// started are known; until then every update parks, so none can
	// overtake an older parked one.
	discovered atomic.Bool

	mu     sync.Mutex // guards queues
	queues map[string]*tenantQueue
}

// tenantQueue serializes one tenant's deliveries.
type tenantQueue struct {
	// mu is held across a direct forward or a park, so a tenant's updates
	// are held in the order they arrived; it guards the fields below.
	mu       sync.Mutex
	backlog  bool // updates are parked; new ones park behind them
	draining bool // a drainer goroutine runs
}

func (d *delivery) queue(tenantID string) *tenantQueue {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.queues[tenantID]
	if q == nil {
		q = &tenantQueue{}
		d.queues[tenantID] = q
	}
	return q
}

// deliver makes the update durable somewhere: the container's own queue (it
// answered 2xx) or parked through the control plane. An error means neither
// worked and Telegram must retry.
func (d *delivery) deliver(ctx context.Context, route *zakiv1.Route, updateID int64, body []byte) error {
	// The update is ours once Telegram sent it; a dropped webhook
	// connection must not abort holding it.
	ctx = context.WithoutCancel(ctx)
	id := route.GetTenantId()
	q := d.queue(id)
	q.mu.Lock()
	defer q.mu.Unlock()
	if cached := d.cache.tenant(id); cached != nil {
		route = cached
	}
	if !q.backlog && d.discovered.Load() && d.cache.fresh() && running(route) {
		err := d.forward(ctx, route, body)
		if err == nil {
			d.m.forwarded.Inc()
			return nil
		}
		d.log.Debug("forward failed, parking", "tenant", id, "update_id", updateID, "error", err)
	}
	if err := d.park(ctx, id, updateID, body); err != nil {
		return err
	}
	q.backlog = true
	d.startDrainLocked(id, q)
	return nil
}

func (d *delivery) park(ctx context.Context, tenantID string, updateID int64, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, parkTimeout)
	defer cancel()
	_, err := d.tenants.ParkUpdate(ctx, &zakiv1.ParkUpdateRequest{Update: &zakiv1.ParkedUpdate{
		TenantId: tenantID, UpdateId: updateID, Body: body,
	}})
	if err != nil {
		return fmt.Errorf("park update %d for tenant %s: %w", updateID, tenantID, err)
	}
	d.m.parked.Inc()
	return nil
}

// forward posts body, byte for byte, to the tenant's container with the
// tenant's own webhook secret.
func (d *delivery) forward(ctx context.Context, route *zakiv1.Route, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, containerURL(route), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("tenant %s: %w", route.GetTenantId(), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", route.GetWebhookSecret())
	start := time.Now()
	resp, err := d.client.Do(req)
	d.m.forwardSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("tenant %s: %w", route.GetTenantId(), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("tenant %s: container answered %d", route.GetTenantId(), resp.StatusCode)
	}
	return nil
}

func containerURL(route *zakiv1.Route) string {
	path := route.GetWebhookPath()
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	host := net.JoinHostPort(route.GetNodeAddress(), strconv.FormatUint(uint64(route.GetHostPort()), 10))
	return "http://" + host + path
}

func running(route *zakiv1.Route) bool {
	return route.GetState() == zakiv1.PlacementState_PLACEMENT_STATE_RUNNING &&
		route.GetNodeAddress() != "" && route.GetHostPort() != 0
}
