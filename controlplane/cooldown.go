package controlplane

import (
	"context"
	"fmt"
	"math"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Port claims and cooldowns. A port is claimed (ports/<node>/<port>) in the
// same transaction that places a tenant on it, only while it is neither
// claimed nor cooling. Whatever frees a port (a tenant leaving its node)
// writes cooldown/<node>/<port> under a lease in the same transaction, so the
// old container has time to go before a new one binds the port; etcd deletes
// the key when the lease ends.

// claimPort is the guard and the write that claim node's port for tenantID.
func claimPort(nodeID string, port uint32, tenantID string) ([]clientv3.Cmp, []clientv3.Op) {
	return []clientv3.Cmp{absent(portKey(nodeID, port)), absent(cooldownKey(nodeID, port))},
		[]clientv3.Op{clientv3.OpPut(portKey(nodeID, port), tenantID)}
}

// releasePort is the writes that free node's port held by tenantID and start
// its cooldown under lease.
func releasePort(nodeID string, port uint32, tenantID string, lease clientv3.LeaseID) []clientv3.Op {
	return []clientv3.Op{clientv3.OpDelete(portKey(nodeID, port)),
		clientv3.OpPut(cooldownKey(nodeID, port), tenantID, clientv3.WithLease(lease))}
}

// cooldownLease grants a lease as long as the port cooldown (whole seconds,
// at least one; etcd may round a short one up); ports released under it are
// reusable when it ends.
func (c *Controller) cooldownLease(ctx context.Context) (clientv3.LeaseID, error) {
	ttl := int64(math.Ceil(c.fleet.portCooldown.Seconds()))
	resp, err := c.cli.Grant(ctx, max(ttl, 1))
	if err != nil {
		return 0, fmt.Errorf("grant port cooldown lease: %w", err)
	}
	return resp.ID, nil
}
