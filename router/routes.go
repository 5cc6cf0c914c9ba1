package router

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// routeCache is the router's in-memory copy of every tenant's route, filled
// by list-then-watch (see watch.go). It is indexed three ways: by tenant, by
// bound chat, and by the hash of the tenant's Bot API secret. Stored routes
// are never mutated; a change stores a new one.
type routeCache struct {
	staleAfter time.Duration // silence longer than this makes the cache stale
	now        func() time.Time

	// mu guards the fields below.
	mu        sync.RWMutex
	byTenant  map[string]*zakiv1.Route
	byChat    map[int64]string
	bySecret  map[[32]byte]string
	synced    bool      // a snapshot arrived on the live stream
	lastHeard time.Time // last event of any kind on the live stream
	// changed is closed and replaced on every change, waking drainers.
	changed chan struct{}
}

func newRouteCache(staleAfter time.Duration, now func() time.Time) *routeCache {
	c := &routeCache{staleAfter: staleAfter, now: now, changed: make(chan struct{})}
	c.resetLocked()
	return c
}

func (c *routeCache) resetLocked() {
	c.byTenant = map[string]*zakiv1.Route{}
	c.byChat = map[int64]string{}
	c.bySecret = map[[32]byte]string{}
}

// fresh reports whether the cache holds a snapshot from a live stream that
// spoke within staleAfter. Routing from a stale cache could send an update to
// a port another tenant now holds, so a stale cache parks instead.
func (c *routeCache) fresh() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced && c.now().Sub(c.lastHeard) < c.staleAfter
}

// age is the seconds since the cache last heard from its source.
func (c *routeCache) age() float64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.lastHeard.IsZero() {
		return 0
	}
	return c.now().Sub(c.lastHeard).Seconds()
}

func (c *routeCache) size() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byTenant)
}

// Changed returns a channel closed at the next change.
func (c *routeCache) Changed() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}

func (c *routeCache) tenant(id string) *zakiv1.Route {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byTenant[id]
}

func (c *routeCache) chat(id int64) *zakiv1.Route {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byTenant[c.byChat[id]]
}

func (c *routeCache) secret(s string) *zakiv1.Route {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byTenant[c.bySecret[sha256.Sum256([]byte(s))]]
}

// replace installs a snapshot.
func (c *routeCache) replace(routes []*zakiv1.Route) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetLocked()
	for _, r := range routes {
		c.putLocked(r)
	}
	c.synced, c.lastHeard = true, c.now()
	c.notifyLocked()
}

func (c *routeCache) upsert(r *zakiv1.Route) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deleteLocked(r.GetTenantId())
	c.putLocked(r)
	c.lastHeard = c.now()
	c.notifyLocked()
}

func (c *routeCache) delete(tenantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deleteLocked(tenantID)
	c.lastHeard = c.now()
	c.notifyLocked()
}

// heard records a progress event.
func (c *routeCache) heard() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastHeard = c.now()
}

// lost marks the stream gone: the data stays for the Bot API front, but the
// cache is stale until the next snapshot.
func (c *routeCache) lost() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.synced = false
	c.notifyLocked()
}

// learn stores a route answered by EnsureTenant or BindChat so the update
// that caused it need not wait for the watch. A route the watch already
// delivered wins, except that chats newly bound are added to it.
func (c *routeCache) learn(r *zakiv1.Route) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.byTenant[r.GetTenantId()]
	if old != nil {
		merged := cloneRoute(old)
		for _, chat := range r.GetChatIds() {
			if !slices.Contains(merged.ChatIds, chat) {
				merged.ChatIds = append(merged.ChatIds, chat)
			}
		}
		r = merged
		c.deleteLocked(r.GetTenantId())
	}
	c.putLocked(r)
	c.notifyLocked()
}

func (c *routeCache) putLocked(r *zakiv1.Route) {
	id := r.GetTenantId()
	c.byTenant[id] = r
	for _, chat := range r.GetChatIds() {
		c.byChat[chat] = id
	}
	if s := r.GetBotApiSecret(); s != "" {
		c.bySecret[sha256.Sum256([]byte(s))] = id
	}
}

func (c *routeCache) deleteLocked(id string) {
	r := c.byTenant[id]
	if r == nil {
		return
	}
	delete(c.byTenant, id)
	for _, chat := range r.GetChatIds() {
		if c.byChat[chat] == id {
			delete(c.byChat, chat)
		}
	}
	if s := r.GetBotApiSecret(); s != "" {
		delete(c.bySecret, sha256.Sum256([]byte(s)))
	}
}

func (c *routeCache) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}
