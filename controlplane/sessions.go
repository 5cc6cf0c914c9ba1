package controlplane

import (
	"context"
	"sync"
	"time"
)

// session is one live agent session, as the registry sees it.
type session struct {
	nodeID string
	// cancel ends the session's handler with a cause.
	cancel context.CancelCauseFunc
}

// sessions is the registry of live agent sessions, one per node id.
//
// It is in-memory and per control plane: after a restart no node has been
// heard, which is what makes every node UNKNOWN (heartbeat.go).
// TODO(#3): with HA, sessions go to the leader, and a new leader starts a
// new grace.
type sessions struct {
	metrics *metrics

	mu sync.Mutex
	// live holds the current session of each connected node.
	live map[string]*session
	// lastHeartbeat is when each node was last heard from; kept after its
	// session ends, for the admin listing.
	lastHeartbeat map[string]time.Time
}

func newSessions(m *metrics) *sessions {
	return &sessions{metrics: m, live: map[string]*session{}, lastHeartbeat: map[string]time.Time{}}
}

// add makes s the node's live session and returns the one it replaced, if
// any; the caller ends that one.
func (r *sessions) add(s *session, now time.Time) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.live[s.nodeID]
	r.live[s.nodeID] = s
	r.lastHeartbeat[s.nodeID] = now
	if old == nil {
		r.metrics.sessions.Inc()
	}
	return old
}

// remove forgets s unless a newer session for its node replaced it.
func (r *sessions) remove(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live[s.nodeID] == s {
		delete(r.live, s.nodeID)
		r.metrics.sessions.Dec()
	}
}

// heard records that a node spoke.
func (r *sessions) heard(nodeID string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastHeartbeat[nodeID] = now
}

// status reports whether a node has a live session and when it last spoke.
func (r *sessions) status(nodeID string) (bool, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live[nodeID] != nil, r.lastHeartbeat[nodeID]
}

// connected is the set of nodes with a live session.
func (r *sessions) connected() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]bool, len(r.live))
	for id := range r.live {
		out[id] = true
	}
	return out
}

// end ends node id's live session, if any, with cause.
func (r *sessions) end(nodeID string, cause error) {
	r.mu.Lock()
	s := r.live[nodeID]
	r.mu.Unlock()
	if s != nil {
		s.cancel(cause)
	}
}

// forget drops what is known of a removed node.
func (r *sessions) forget(nodeID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.lastHeartbeat, nodeID)
}

// heartbeatExpired reports whether a node last heard at last has been silent
// for longer than timeout (its missed heartbeats times the period) by now.
func heartbeatExpired(last, now time.Time, timeout time.Duration) bool {
	return now.Sub(last) > timeout
}
