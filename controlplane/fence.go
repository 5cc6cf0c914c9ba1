package controlplane

import (
	"fmt"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// notLeader is a comparison that never holds: a create revision is never
// negative. It fences the writes of a replica that does not lead.
var notLeader = clientv3.Compare(clientv3.CreateRevision(electionPrefix), "<", 0)

// fenced adds to cmps the condition that this replica still leads, for
// every write only the leader may make (scheduling, judging nodes, starting
// moves): its election key must still exist with the create revision it won
// at. etcd checks that in the same transaction as the write, so a deposed
// leader's transaction fails (Succeeded false, like a lost race) even
// before it notices, and so does that of a replica that never led.
func (c *Controller) fenced(cmps ...clientv3.Cmp) []clientv3.Cmp {
	cmps = slices.Clip(cmps) // never write into the caller's array
	key, rev := c.rep.fence()
	if key == "" {
		return append(cmps, notLeader)
	}
	return append(cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", rev))
}

// requireLeader is nil while this replica leads, else errNotLeader naming
// the leader when it is known, for leader-only requests that should say so
// rather than fail as a lost race.
func (c *Controller) requireLeader() error {
	if c.rep.leading() {
		return nil
	}
	if id, addr := c.rep.leaderIdentity(); id != "" {
		return fmt.Errorf("%w; %s at %s did when last seen", errNotLeader, id, addr)
	}
	return errNotLeader
}
