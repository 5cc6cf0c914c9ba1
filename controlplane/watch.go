package controlplane

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// watchFrom watches every key under the prefix from just after v's revision,
// so that applying its events to v keeps v exact. The watch requires a
// leader, so a partitioned member ends it instead of going silent.
func (c *Controller) watchFrom(ctx context.Context, v *view) clientv3.WatchChan {
	ctx = clientv3.WithRequireLeader(ctx)
	return c.cli.Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(v.rev+1),
		clientv3.WithProgressNotify())
}

// applyWatch applies one watch response to v and reports whether the view
// changed. A compacted or failed watch is an error: the caller must end its
// stream so that its client lists again.
func applyWatch(ctx context.Context, v *view, resp clientv3.WatchResponse, ok bool) (bool, error) {
	if !ok {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		return false, fmt.Errorf("%w: watch closed at revision %d", errUnavailable, v.rev)
	}
	if resp.CompactRevision != 0 {
		return false, fmt.Errorf("%w: revision %d compacted (oldest %d)", errCompacted, v.rev+1,
			resp.CompactRevision)
	}
	if err := resp.Err(); err != nil {
		return false, fmt.Errorf("%w: watch from revision %d: %w", errUnavailable, v.rev+1, err)
	}
	if resp.IsProgressNotify() {
		// Every event up to the header's revision has been delivered.
		v.rev = max(v.rev, resp.Header.Revision)
		return false, nil
	}
	touched := false
	for _, ev := range resp.Events {
		ok, err := v.apply(ev)
		if err != nil {
			return false, err
		}
		touched = touched || ok
	}
	return touched, nil
}
