package controlplane

import (
	"context"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// routeFor joins what a router needs to deliver to tenant id. A tenant with
// no node yet has an empty address and port and its placement's state. A
// moving tenant's route is in state MOVING and still names its source's
// address and port, at the move's generation: routers park its updates
// (they deliver only to RUNNING routes) until the flip names the target.
func routeFor(v *view, id string, chats []int64) *zakiv1.Route {
	t := v.tenants[id]
	if t == nil {
		return nil
	}
	r := &zakiv1.Route{TenantId: id, Kind: t.Kind, OwnerUserId: t.OwnerUserId,
		ChatIds: chats, WebhookPath: webhookPath(v.profiles, t.Profile)}
	if s := v.secrets[id]; s != nil {
		r.WebhookSecret, r.BotApiSecret = s.WebhookSecret, s.BotApiSecret
	}
	if p := v.placements[id]; p != nil {
		r.State, r.Generation = p.State, p.Generation
		if n := v.nodes[p.NodeId]; n != nil && p.State != zakiv1.PlacementState_PLACEMENT_STATE_PENDING {
			r.NodeAddress, r.HostPort = n.Address, p.HostPort
		}
	}
	return r
}

// webhookPath is the profile's webhook path, or the OpenClaw default when
// this binary does not know the profile.
func webhookPath(profiles profileLookup, name string) string {
	if p, err := profiles(name); err == nil && p.WebhookPath != "" {
		return p.WebhookPath
	}
	return fallbackWebhookPath
}

// allRoutes is the route of every tenant in v.
func allRoutes(v *view) map[string]*zakiv1.Route {
	chats := v.chatIDs()
	out := make(map[string]*zakiv1.Route, len(v.tenants))
	for id := range v.tenants {
		out[id] = routeFor(v, id, chats[id])
	}
	return out
}

// WatchRoutes sends a snapshot of every route, then each route that changed
// and each tenant that went away, and a Progress event every progress
// interval. It returns when ctx ends, send fails or the watch fails; a
// compacted watch returns errCompacted so the caller lists again.
func (c *Controller) WatchRoutes(ctx context.Context, send func(*zakiv1.WatchRoutesResponse) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	v, err := c.loadView(ctx)
	if err != nil {
		return err
	}
	last := allRoutes(v)
	snap := &zakiv1.RouteSnapshot{}
	for _, id := range sortedKeys(last) {
		snap.Routes = append(snap.Routes, last[id])
	}
	if err := send(&zakiv1.WatchRoutesResponse{Revision: v.rev,
		Event: &zakiv1.WatchRoutesResponse_Snapshot{Snapshot: snap}}); err != nil {
		return err
	}
	wch := c.watchFrom(ctx, v)
	tick := time.NewTicker(c.progressInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := send(&zakiv1.WatchRoutesResponse{Revision: v.rev,
				Event: &zakiv1.WatchRoutesResponse_Progress{Progress: &zakiv1.Progress{}}}); err != nil {
				return err
			}
			// Ask etcd how far it is, so the next Progress carries a fresh revision.
			_ = c.cli.RequestProgress(clientv3.WithRequireLeader(ctx))
		case resp, ok := <-wch:
			touched, err := applyWatch(ctx, v, resp, ok)
			if err != nil {
				return err
			}
			if touched {
				if last, err = sendRouteChanges(v, last, send); err != nil {
					return err
				}
			}
		}
	}
}

// sendRouteChanges sends what differs between last and v's routes and
// returns v's routes.
func sendRouteChanges(v *view, last map[string]*zakiv1.Route,
	send func(*zakiv1.WatchRoutesResponse) error) (map[string]*zakiv1.Route, error) {
	now := allRoutes(v)
	for _, id := range sortedKeys(now) {
		if proto.Equal(now[id], last[id]) {
			continue
		}
		if err := send(&zakiv1.WatchRoutesResponse{Revision: v.rev,
			Event: &zakiv1.WatchRoutesResponse_Upsert{Upsert: now[id]}}); err != nil {
			return last, err
		}
	}
	for _, id := range sortedKeys(last) {
		if _, ok := now[id]; ok {
			continue
		}
		if err := send(&zakiv1.WatchRoutesResponse{Revision: v.rev,
			Event: &zakiv1.WatchRoutesResponse_DeleteTenantId{DeleteTenantId: id}}); err != nil {
			return last, err
		}
	}
	return now, nil
}
