package agent

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/hashicorp/go-hclog"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// worker drives one tenant's container toward what the control plane wants,
// so a slow start of one tenant never holds up another.
type worker struct {
	a      *Agent
	tenant string
	log    hclog.Logger
	// kick has room for one signal: "want changed, look again". Never closed.
	kick chan struct{}
	// resync has room for one signal: "look again if not backing off", sent
	// on the agent's resync period so a container that died or was removed
	// behind the agent's back is noticed. Never closed.
	resync chan struct{}

	// Guarded by a.mu:
	// want is the assignment to run; nil means remove the tenant's
	// container; a discard want removes its volume too.
	want *zakiv1.Assignment
	// cancel ends the attempt in progress, when want moved on under it.
	cancel context.CancelFunc
	// held lives while want is one stopped assignment; release ends it as
	// soon as want moves on, so a volume being served to a move's target
	// is cut off before anything can start the container again.
	held    context.Context
	release context.CancelFunc
}

// setWant records the newest wish for the tenant, starting a worker if there
// is none. An attempt toward another generation is cut short.
func (a *Agent) setWant(tenant string, want *zakiv1.Assignment) {
	if tenant == "" {
		// An empty tenant would select every container of the node.
		a.log.Warn("ignoring an assignment without a tenant id")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.runCtx == nil || a.runCtx.Err() != nil {
		return
	}
	w := a.tenants[tenant]
	if w == nil {
		w = &worker{a: a, tenant: tenant, log: a.log.With("tenant", tenant),
			kick: make(chan struct{}, 1), resync: make(chan struct{}, 1)}
		a.tenants[tenant] = w
		a.workers.Add(1)
		go w.run(a.runCtx)
	}
	// A discard of the same generation as the stopped want before it cuts
	// that attempt short too: the tenant runs elsewhere now.
	if w.cancel != nil && (want == nil || w.want == nil || want.GetGeneration() != w.want.GetGeneration() ||
		want.GetDiscard() != w.want.GetDiscard()) {
		w.cancel()
	}
	if w.release != nil && !sameStop(w.want, want) {
		w.release()
		w.held, w.release = nil, nil
	}
	if holds(want) && w.held == nil {
		w.held, w.release = context.WithCancel(a.runCtx)
	}
	w.want = want
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// sameStop reports whether a and b are both the held (stopped, not
// discarded) assignment of one generation.
func sameStop(a, b *zakiv1.Assignment) bool {
	return holds(a) && holds(b) && a.GetGeneration() == b.GetGeneration()
}

// holds reports whether want keeps the tenant stopped for its move's target
// to pull: a stopped want, unless it is a discard, which wins over stopped.
func holds(want *zakiv1.Assignment) bool {
	return want.GetStopped() && !want.GetDiscard()
}

// heldWant returns the tenant's current want and, when it is a stopped
// assignment, a context that ends when that want moves on (never nil then).
func (a *Agent) heldWant(tenant string) (*zakiv1.Assignment, context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.tenants[tenant]
	if w == nil {
		return nil, nil
	}
	return w.want, w.held
}

// run reconciles whenever kicked or resynced, retrying failures with backoff
// for as long as the tenant is wanted: a tenant is never given up on, and its
// FAILED reason stays visible to the operator meanwhile.
func (w *worker) run(ctx context.Context) {
	defer w.a.workers.Done()
	b := retryBackoff()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	backingOff := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
			b.Reset()
		case <-w.resync:
			if backingOff {
				continue
			}
		case <-retry.C:
		}
		retry.Stop()
		backingOff = false
		want, actx, cancel := w.begin(ctx)
		err := w.reconcile(actx, want)
		cut := actx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case cut:
			// Cut short by a newer want; the kick is already queued.
		case err == nil && want == nil:
			if w.retire() {
				return
			}
		case err != nil:
			w.log.Debug("tenant reconcile failed", "error", err)
			retry.Reset(b.NextBackOff())
			backingOff = true
		default:
			b.Reset()
		}
	}
}

// begin takes the current want and a context for one attempt at it.
func (w *worker) begin(ctx context.Context) (*zakiv1.Assignment, context.Context, context.CancelFunc) {
	w.a.mu.Lock()
	defer w.a.mu.Unlock()
	actx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	return w.want, actx, cancel
}

// retire removes the worker once its tenant is gone and still unwanted;
// false means something new arrived and the worker carries on.
func (w *worker) retire() bool {
	w.a.mu.Lock()
	defer w.a.mu.Unlock()
	if w.want != nil || len(w.kick) > 0 || w.a.tenants[w.tenant] != w {
		return false
	}
	delete(w.a.tenants, w.tenant)
	return true
}

// retryBackoff paces a failing tenant: about 1s, 2s, 4s ... up to 2 minutes,
// with no end: a tenant stays wanted until the control plane says otherwise.
func retryBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = time.Second
	b.Multiplier = 2
	b.MaxInterval = 2 * time.Minute
	return b
}

// resyncAll asks every worker to look at its container again.
func (a *Agent) resyncAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.tenants {
		select {
		case w.resync <- struct{}{}:
		default:
		}
	}
}
