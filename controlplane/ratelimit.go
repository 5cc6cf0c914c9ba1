package controlplane

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the per-node limiters kept; past it, limiters that are
// full again (their node has been quiet) are dropped.
const maxLimiters = 4096

// registerLimiter limits how often each node may register: a burst, then one
// per interval. A flapping agent then costs the control plane (and etcd) a
// refusal, not a registration, and a thousand agents reconnecting at once
// each get through once.
type registerLimiter struct {
	every rate.Limit
	burst int

	mu sync.Mutex
	// byNode holds each node's limiter.
	byNode map[string]*rate.Limiter
}

func newRegisterLimiter(interval time.Duration, burst int) *registerLimiter {
	return &registerLimiter{every: rate.Every(interval), burst: burst, byNode: map[string]*rate.Limiter{}}
}

// allow takes one registration for nodeID at now, or returns an error
// wrapping errRateLimited that says when to retry.
func (l *registerLimiter) allow(nodeID string, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.byNode[nodeID]
	if lim == nil {
		l.pruneLocked(now)
		lim = rate.NewLimiter(l.every, l.burst)
		l.byNode[nodeID] = lim
	}
	r := lim.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return fmt.Errorf("%w: node %s registers too often; retry in %s (at %s)", errRateLimited,
			nodeID, wait.Round(time.Millisecond), now.Add(wait).UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// pruneLocked drops the limiters of quiet nodes once there are too many.
func (l *registerLimiter) pruneLocked(now time.Time) {
	if len(l.byNode) < maxLimiters {
		return
	}
	for id, lim := range l.byNode {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.byNode, id)
		}
	}
}
