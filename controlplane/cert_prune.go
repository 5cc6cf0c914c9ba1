package controlplane

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zaki-platform/zaki/internal/every"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// certRecordSlack is how long an issued or revoked record outlives its
// certificate's expiry before it is pruned: members with a clock a little
// behind still see a revoked certificate refused, and an operator reading
// `zaki ctl members` right after an expiry still finds it.
const certRecordSlack = 24 * time.Hour

// pruneCertRecords deletes issued and revoked certificate records whose
// certificate expired more than certRecordSlack before now: an expired
// certificate fails every handshake by itself, so its record only grows
// etcd. A record that cannot be read is kept (and logged), never guessed
// at. It returns how many records it deleted.
func (c *Controller) pruneCertRecords(ctx context.Context) (int, error) {
	cutoff := c.now().Add(-certRecordSlack)
	var stale []string
	for _, pfx := range []string{issuedPrefix, revokedPrefix} {
		resp, err := c.cli.Get(ctx, pfx, clientv3.WithPrefix())
		if err != nil {
			return 0, fmt.Errorf("%w: read certificate records: %v", errUnavailable, err)
		}
		for _, kv := range resp.Kvs {
			notAfter, err := recordNotAfter(pfx, kv.Value)
			if err != nil {
				c.log.Warn("keeping an unreadable certificate record", "key", string(kv.Key), "error", err)
				continue
			}
			if notAfter.Before(cutoff) {
				stale = append(stale, string(kv.Key))
			}
		}
	}
	deleted := 0
	// etcd caps the operations of one transaction; a failure part-way
	// leaves the rest to the next pass.
	for batch := range slices.Chunk(stale, 100) {
		ops := make([]clientv3.Op, 0, len(batch))
		for _, k := range batch {
			ops = append(ops, clientv3.OpDelete(k))
		}
		if _, err := c.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return deleted, fmt.Errorf("%w: prune certificate records: %v", errUnavailable, err)
		}
		deleted += len(batch)
	}
	if deleted > 0 {
		c.log.Info("pruned expired certificate records", "count", deleted)
	}
	return deleted, nil
}

// recordNotAfter reads the expiry from an issued record ("<role> <not
// after>") or a revoked one ("<id> <not after>").
func recordNotAfter(pfx string, v []byte) (time.Time, error) {
	if pfx == issuedPrefix {
		_, t, err := parseIssued(v)
		return t, err
	}
	_, notAfter, found := strings.Cut(string(v), " ")
	if !found {
		return time.Time{}, fmt.Errorf("revoked certificate record %q has no expiry", v)
	}
	t, err := time.Parse(time.RFC3339, notAfter)
	if err != nil {
		return time.Time{}, fmt.Errorf("revoked certificate record %q: %w", v, err)
	}
	return t, nil
}

// certPrunePeriod is how often the leader prunes certificate records.
const certPrunePeriod = time.Hour

// runCertPrune prunes expired certificate records every certPrunePeriod
// until ctx ends; a failed pass is retried on the next one.
func (c *Controller) runCertPrune(ctx context.Context) {
	every.Run(ctx, certPrunePeriod, func(ctx context.Context) {
		if _, err := c.pruneCertRecords(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("pruning certificate records, retrying next period", "error", err)
		}
	})
}
