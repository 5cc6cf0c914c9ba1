// Package router is Zaki's Telegram edge: it takes webhook updates from
// Telegram, resolves each to its tenant, forwards the raw body to that tenant's
// container (or parks it through the control plane until the container can take
// it), and serves the Bot API front through which containers call Telegram with
// a per-tenant pseudo token. What a tenant may call through the front (never
// the bot's shared settings, only its own chats and person) is one reviewable
// list in frontpolicy.go.
//
// The router is stateless. Everything durable (tenants, routes, parked updates)
// lives behind the control plane's TenantService, which the router reaches only
// through gen/zaki/v1. It may import gen/, internal/ and router/update; it must
// never import controlplane/ or agent/.
//
// The real bot token exists only here; logs carry secret.Fingerprint of it.
package router
