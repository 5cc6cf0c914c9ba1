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
	// aliveRev is the revision of the node's alive key this session
	// published (liveness.go); 0 while it is being published. Guarded by
	// the registry's mu.
	aliveRev int64
}

// sessions is the registry of this replica's live agent sessions, one per
// node id, joined with what the alive keys say of other replicas' sessions
// (cluster): an agent holds its session with any one replica.
//
// The local part is in-memory: after a restart no node has been heard,
// which is what makes every node UNKNOWN (heartbeat.go).
type sessions struct {
	metrics *metrics
	cluster *aliveSet

	mu sync.Mutex
	// live holds the current session of each node connected here.
	live map[string]*session
	// lastHeartbeat is when each node was last heard from here; kept after
	// its session ends, for the admin listing.
	lastHeartbeat map[string]time.Time
}

func newSessions(m *metrics, cluster *aliveSet) *sessions {
	return &sessions{metrics: m, cluster: cluster, live: map[string]*session{},
		lastHeartbeat: map[string]time.Time{}}
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

// status reports whether a node has a live session with any replica, and
// when it last spoke: to this replica if it holds the session, else as the
// alive keys tell (now while another replica holds it).
func (r *sessions) status(nodeID string) (bool, time.Time) {
	r.mu.Lock()
	live, heard := r.live[nodeID] != nil, r.lastHeartbeat[nodeID]
	r.mu.Unlock()
	if live {
		return true, heard
	}
	held, clusterHeard := r.cluster.heard(nodeID)
	if clusterHeard.After(heard) {
		heard = clusterHeard
	}
	return held, heard
}

// connected is the set of nodes with a live session with any replica.
func (r *sessions) connected() map[string]bool {
	out := r.cluster.holders()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.live {
		out[id] = true
	}
	return out
}

// holds reports whether node has a live session with this replica.
func (r *sessions) holds(nodeID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live[nodeID] != nil
}

// setAliveRev records the revision s published its node's alive key at.
func (r *sessions) setAliveRev(s *session, rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.aliveRev = rev
}

// aliveRev is the revision of s's alive key, for its goodbye.
func (r *sessions) aliveRev(s *session) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return s.aliveRev
}

// aliveRevs maps each node with a live session here to its alive key's
// revision (0: being published).
func (r *sessions) aliveRevs() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.live))
	for id, s := range r.live {
		out[id] = s.aliveRev
	}
	return out
}

// republished moves node's live session from alive key revision old to
// rev, after tidyAlive published it again.
func (r *sessions) republished(node string, old, rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.live[node]; s != nil && s.aliveRev == old {
		s.aliveRev = rev
	}
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
