package router

import (
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/hashicorp/go-hclog"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

const (
	drainBatch = 64
	// drainRecheck wakes an idle drainer even without a route change, in
	// case the cache turned fresh or stale by time alone.
	drainRecheck = 5 * time.Second
)

// startDrainLocked starts the tenant's drainer unless one runs. q.mu is held.
func (d *delivery) startDrainLocked(tenantID string, q *tenantQueue) {
	if q.draining || d.ctx.Err() != nil {
		return
	}
	q.draining = true
	d.wg.Add(1)
	go d.drain(tenantID, q)
}

// drain delivers the tenant's parked updates in update_id order once its
// route is RUNNING, acknowledging each after the container's 2xx. It ends
// when nothing is parked any more (clearing the backlog flag under q.mu, so
// an update parked meanwhile is never stranded) or when the router stops.
func (d *delivery) drain(tenantID string, q *tenantQueue) {
	defer d.wg.Done()
	b := newBackoff(d.retryMin)
	var st stall
	for d.ctx.Err() == nil {
		changed := d.cache.Changed()
		route := d.cache.tenant(tenantID)
		if route == nil || !running(route) || !d.cache.fresh() {
			d.waitChange(changed, drainRecheck)
			continue
		}
		done, parked, err := d.drainOnce(route, q)
		if d.ctx.Err() != nil {
			return // stopping: the failure says nothing about the tenant
		}
		st.note(d.log, tenantID, parked, err)
		if done {
			return
		}
		if err != nil {
			d.waitChange(changed, b.NextBackOff())
			continue
		}
		b.Reset()
	}
}

// stall tracks whether one drainer is failing, so an operator hears once
// when a tenant's drain starts failing (Warn) and once when it recovers
// (Info), while each retry in between stays at Debug.
type stall struct {
	stalled bool
	retries int // failed tries since the stall began
}

// note records the outcome of one drain pass. parked is how many updates
// the pass found parked (at most drainBatch), -1 when it could not look.
func (s *stall) note(log hclog.Logger, tenantID string, parked int, err error) {
	switch {
	case err != nil && !s.stalled:
		s.stalled, s.retries = true, 1
		args := []any{"tenant", tenantID, "error", err}
		if parked >= 0 {
			args = append(args, "parked", parked)
		}
		log.Warn("drain stalled, retrying with backoff", args...)
	case err != nil:
		s.retries++
		log.Debug("drain still stalled", "tenant", tenantID, "retries", s.retries, "error", err)
	case s.stalled:
		log.Info("drain recovered", "tenant", tenantID, "retries", s.retries)
		s.stalled, s.retries = false, 0
	}
}

// drainOnce delivers one batch; done means the backlog is empty and
// cleared. parked is the size of the batch it found, -1 if listing failed.
func (d *delivery) drainOnce(route *zakiv1.Route, q *tenantQueue) (done bool, parked int, err error) {
	id := route.GetTenantId()
	list, err := d.tenants.ListParked(d.ctx, &zakiv1.ListParkedRequest{TenantId: id, Limit: drainBatch})
	if err != nil {
		return false, -1, err
	}
	parked = len(list.GetUpdates())
	if parked == 0 {
		done, err = d.finish(id, q)
		return done, parked, err
	}
	for _, u := range list.GetUpdates() {
		if err := d.forward(d.ctx, route, u.GetBody()); err != nil {
			return false, parked, err
		}
		d.m.forwarded.Inc()
		ack := &zakiv1.AckParkedRequest{TenantId: id, UpdateIds: []int64{u.GetUpdateId()}}
		if _, err := d.tenants.AckParked(d.ctx, ack); err != nil {
			return false, parked, err
		}
	}
	return false, parked, nil
}

// finish clears the backlog if nothing was parked since the last look.
func (d *delivery) finish(id string, q *tenantQueue) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	list, err := d.tenants.ListParked(d.ctx, &zakiv1.ListParkedRequest{TenantId: id, Limit: 1})
	if err != nil || len(list.GetUpdates()) > 0 {
		return false, err
	}
	q.backlog, q.draining = false, false
	d.log.Debug("backlog drained", "tenant", id)
	return true, nil
}

// waitChange waits for the route cache to change, for d, or for the end.
func (d *delivery) waitChange(changed <-chan struct{}, wait time.Duration) {
	if wait == backoff.Stop {
		wait = drainRecheck
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-d.ctx.Done():
	case <-changed:
	case <-t.C:
	}
}

// discover finds the tenants whose updates were parked before this process
// started and starts their drainers; until it succeeds every update parks.
func (d *delivery) discover() {
	defer d.wg.Done()
	b := newBackoff(d.retryMin)
	for d.ctx.Err() == nil {
		list, err := d.tenants.ListParked(d.ctx, &zakiv1.ListParkedRequest{})
		if err == nil {
			for _, id := range list.GetTenantIds() {
				q := d.queue(id)
				q.mu.Lock()
				q.backlog = true
				d.startDrainLocked(id, q)
				q.mu.Unlock()
			}
			d.discovered.Store(true)
			d.log.Info("parked backlogs found", "tenants", len(list.GetTenantIds()))
			return
		}
		d.log.Warn("listing parked tenants failed", "error", err)
		sleepCtx(d.ctx, b.NextBackOff())
	}
}
