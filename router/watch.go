package router

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/proto"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

var errSilent = errors.New("route stream went silent")

// watcher keeps a routeCache filled: list-then-watch over
// TenantService.WatchRoutes. Any failure, including a stream that stops
// speaking for staleAfter, tears the stream down and starts over with a fresh
// snapshot, after a backoff that resets once a snapshot arrives.
type watcher struct {
	tenants    zakiv1.TenantServiceClient
	cache      *routeCache
	staleAfter time.Duration
	retryMin   time.Duration
	log        hclog.Logger
	onChange   func() // after each applied event, e.g. to update gauges
}

func (w *watcher) run(ctx context.Context) {
	b := newBackoff(w.retryMin)
	for ctx.Err() == nil {
		synced, err := w.watchOnce(ctx)
		w.cache.lost()
		if ctx.Err() != nil {
			return
		}
		if synced {
			b.Reset()
		}
		w.log.Warn("route stream lost, re-listing", "error", err)
		if !sleepCtx(ctx, b.NextBackOff()) {
			return
		}
	}
}

// watchOnce runs one stream until it fails; synced says whether it got as far
// as a snapshot.
func (w *watcher) watchOnce(ctx context.Context) (synced bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dog := time.AfterFunc(w.staleAfter, cancel)
	defer dog.Stop()
	stream, err := w.tenants.WatchRoutes(sctx, &zakiv1.WatchRoutesRequest{})
	if err != nil {
		return false, err
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			if ctx.Err() == nil && sctx.Err() != nil {
				err = errSilent
			}
			return synced, err
		}
		dog.Reset(w.staleAfter)
		if w.apply(ev) {
			synced = true
		}
		if w.onChange != nil {
			w.onChange()
		}
	}
}

// apply folds one event into the cache; it reports whether it was a snapshot.
func (w *watcher) apply(ev *zakiv1.WatchRoutesResponse) bool {
	switch e := ev.GetEvent().(type) {
	case *zakiv1.WatchRoutesResponse_Snapshot:
		w.cache.replace(e.Snapshot.GetRoutes())
		w.log.Info("route snapshot", "routes", len(e.Snapshot.GetRoutes()), "revision", ev.GetRevision())
		return true
	case *zakiv1.WatchRoutesResponse_Upsert:
		w.cache.upsert(e.Upsert)
	case *zakiv1.WatchRoutesResponse_DeleteTenantId:
		w.cache.delete(e.DeleteTenantId)
	case *zakiv1.WatchRoutesResponse_Progress:
		w.cache.heard()
	}
	return false
}

func newBackoff(min time.Duration) *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = min
	b.MaxInterval = 30 * time.Second
	if b.MaxInterval < min {
		b.MaxInterval = min
	}
	return b
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func cloneRoute(r *zakiv1.Route) *zakiv1.Route {
	return proto.Clone(r).(*zakiv1.Route)
}
