package router

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/router/update"
)

// Reasons, besides the parser's, that an update is unroutable.
const (
	// reasonNoTenant: the chat has no tenant and may not get one (a group
	// nobody on the platform added the bot to), or the tenant is gone.
	reasonNoTenant = "no_tenant"
	// reasonBindConflict: a migrated group's new chat is bound to another
	// tenant already.
	reasonBindConflict = "bind_conflict"
)

// unroutableReason reports whether err from EnsureTenant or BindChat is the
// control plane's final word on this update, and with which reason. Such an
// update is answered 2xx and counted: Telegram would resend it forever and
// get the same answer each time. Every other failure (Unavailable,
// DeadlineExceeded, Internal, …) may pass, so Telegram is asked to retry.
func unroutableReason(err error) (string, bool) {
	switch status.Code(err) {
	case codes.InvalidArgument:
		return update.ReasonInvalid, true
	case codes.NotFound, codes.FailedPrecondition:
		return reasonNoTenant, true
	case codes.AlreadyExists:
		return reasonBindConflict, true
	}
	return "", false
}

// resolver turns a routing decision into a route: from the cache when the chat
// is bound there, else from EnsureTenant, whose answer is used at once rather
// than waiting for the watch to carry it.
type resolver struct {
	tenants zakiv1.TenantServiceClient
	cache   *routeCache
}

// resolve returns the route d goes to. A nil route with a reason means
// unroutable (2xx, counted); an error means the control plane could not
// answer and Telegram should retry (see unroutableReason).
func (r *resolver) resolve(ctx context.Context, d update.Decision) (*zakiv1.Route, string, error) {
	route := r.cache.chat(d.Chat)
	if route == nil {
		var reason string
		var err error
		if route, reason, err = r.ensure(ctx, d); route == nil {
			return nil, reason, err
		}
	}
	if d.Bind != 0 && !slices.Contains(route.GetChatIds(), d.Bind) {
		resp, err := r.tenants.BindChat(ctx, &zakiv1.BindChatRequest{ChatId: d.Bind, TenantId: route.GetTenantId()})
		if reason, final := unroutableReason(err); final {
			return nil, reason, nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("bind chat %d to tenant %s: %w", d.Bind, route.GetTenantId(), err)
		}
		if resp.GetRoute() != nil {
			route = resp.GetRoute()
			r.cache.learn(route)
		}
	}
	return route, "", nil
}

func (r *resolver) ensure(ctx context.Context, d update.Decision) (*zakiv1.Route, string, error) {
	kind := zakiv1.TenantKind_TENANT_KIND_USER
	if d.Group {
		kind = zakiv1.TenantKind_TENANT_KIND_GROUP
	}
	resp, err := r.tenants.EnsureTenant(ctx, &zakiv1.EnsureTenantRequest{
		ChatId: d.Chat, Kind: kind, OwnerUserId: d.Owner, Create: d.Create,
	})
	if reason, final := unroutableReason(err); final {
		return nil, reason, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("ensure tenant for chat %d: %w", d.Chat, err)
	}
	if resp.GetRoute() == nil {
		return nil, "", fmt.Errorf("ensure tenant for chat %d: answer carries no route", d.Chat)
	}
	r.cache.learn(resp.GetRoute())
	return resp.GetRoute(), "", nil
}
