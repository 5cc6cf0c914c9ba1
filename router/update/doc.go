// Package update turns a raw Telegram update into a routing decision: which
// chat keys its tenant, whether that tenant may be created, and whether the
// update re-binds a migrated group. It is pure (no I/O) and never re-encodes
// the body: the router forwards the original bytes.
//
// It may import only the standard library and github.com/go-telegram/bot/models.
package update
