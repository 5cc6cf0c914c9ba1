package controlplane

import (
	"context"
	"fmt"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

const (
	defaultParkedLimit = 100
	maxParkedLimit     = 1000
	// ackBatch stays under etcd's default limit of 128 operations a txn.
	ackBatch = 100
)

// ParkUpdate holds u in etcd until its tenant's container can take it. It
// reports false when the same update was parked before (the first body
// wins). The tenant must exist.
func (c *Controller) ParkUpdate(ctx context.Context, u *zakiv1.ParkedUpdate) (bool, error) {
	key := parkedKey(u.TenantId, u.UpdateId)
	resp, err := c.cli.Txn(ctx).
		If(present(tenantKey(u.TenantId)), absent(key)).
		Then(putProto(key, u)).
		Else(clientv3.OpGet(tenantKey(u.TenantId), clientv3.WithCountOnly())).Commit()
	if err != nil {
		return false, fmt.Errorf("park update %d of tenant %s: %w", u.UpdateId, u.TenantId, err)
	}
	if resp.Succeeded {
		return true, nil
	}
	if resp.Responses[0].GetResponseRange().Count == 0 {
		return false, fmt.Errorf("%w: tenant %s", errNotFound, u.TenantId)
	}
	return false, nil
}

// ListParked returns up to limit (0 = 100) of a tenant's parked updates in
// update_id order.
func (c *Controller) ListParked(ctx context.Context, tenantID string, limit uint32,
) ([]*zakiv1.ParkedUpdate, error) {
	if limit == 0 {
		limit = defaultParkedLimit
	}
	limit = min(limit, maxParkedLimit)
	resp, err := c.cli.Get(ctx, parkedTenantPrefix(tenantID), clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend), clientv3.WithLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list parked updates of tenant %s: %w", tenantID, err)
	}
	out := make([]*zakiv1.ParkedUpdate, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		u := &zakiv1.ParkedUpdate{}
		if err := proto.Unmarshal(kv.Value, u); err != nil {
			return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// ParkedCounts returns how many updates each tenant has parked.
func (c *Controller) ParkedCounts(ctx context.Context) (map[string]uint32, error) {
	resp, err := c.cli.Get(ctx, parkedPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("list parked updates: %w", err)
	}
	out := map[string]uint32{}
	for _, kv := range resp.Kvs {
		if t, ok := parseParkedKey(string(kv.Key)); ok {
			out[t]++
		}
	}
	return out, nil
}

// AckParked deletes a tenant's parked updates; unknown ids are ignored.
func (c *Controller) AckParked(ctx context.Context, tenantID string, updateIDs []int64) error {
	for start := 0; start < len(updateIDs); start += ackBatch {
		batch := updateIDs[start:min(start+ackBatch, len(updateIDs))]
		ops := make([]clientv3.Op, 0, len(batch))
		for _, id := range batch {
			ops = append(ops, clientv3.OpDelete(parkedKey(tenantID, id)))
		}
		if _, err := c.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("ack parked updates of tenant %s: %w", tenantID, err)
		}
	}
	return nil
}
