package controlplane

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zaki-platform/zaki/internal/every"
	"github.com/zaki-platform/zaki/internal/pki"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Issued and revoked certificates in etcd. Each issued certificate is
// recorded under its holder's id, so removing a node can revoke all of its
// certificates; a revoked serial stays until the certificate would have
// expired anyway.
//
// Records past their expiry are pruned by the leader (cert_prune.go).
const (
	issuedPrefix  = pkiPrefix + "issued/"  // <id>/<serial hex> = "<role> <not-after RFC 3339>"
	revokedPrefix = pkiPrefix + "revoked/" // <serial hex> = "<id> <not-after RFC 3339>"
)

func issuedKey(id, serial string) string { return issuedPrefix + id + "/" + serial }

// recordIssued is the etcd op that records one issued certificate.
func recordIssued(id pki.Identity, serial string, notAfter time.Time) clientv3.Op {
	return clientv3.OpPut(issuedKey(id.ID, serial), string(id.Role)+" "+notAfter.UTC().Format(time.RFC3339))
}

// parseIssued reads an issued record's value. Records written before the
// role was kept hold the not-after alone; their role is "" (unknown).
func parseIssued(v []byte) (pki.Role, time.Time, error) {
	role, notAfter, found := strings.Cut(string(v), " ")
	if !found {
		role, notAfter = "", role
	}
	t, err := time.Parse(time.RFC3339, notAfter)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issued certificate record %q: %w", v, err)
	}
	return pki.Role(role), t, nil
}

// revokedSet is the revoked serials, checked on every call. It is kept
// current by watching etcd, so a revocation made by any control plane
// takes effect everywhere within a watch delay; the one that revokes adds
// the serials itself, at once.
type revokedSet struct {
	mu      sync.RWMutex
	serials map[string]bool // guarded by mu
	// changed is closed, and replaced, whenever serials change; guarded by mu.
	changed chan struct{}
}

func newRevokedSet() *revokedSet {
	return &revokedSet{serials: map[string]bool{}, changed: make(chan struct{})}
}

// changes is closed at the next change of the set.
func (r *revokedSet) changes() <-chan struct{} {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.changed
}

// signalLocked wakes the waiters of changes.
func (r *revokedSet) signalLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *revokedSet) has(serial string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.serials[serial]
}

func (r *revokedSet) add(serials ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range serials {
		r.serials[s] = true
	}
	r.signalLocked()
}

// load replaces the set with etcd's and returns the revision it read at.
func (r *revokedSet) load(ctx context.Context, cli *clientv3.Client) (int64, error) {
	resp, err := cli.Get(ctx, revokedPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return 0, fmt.Errorf("%w: read revoked certificates: %v", errUnavailable, err)
	}
	set := map[string]bool{}
	for _, kv := range resp.Kvs {
		set[strings.TrimPrefix(string(kv.Key), revokedPrefix)] = true
	}
	r.mu.Lock()
	r.serials = set
	r.signalLocked()
	r.mu.Unlock()
	return resp.Header.Revision, nil
}

// watch keeps the set current until ctx ends: list, then watch from the
// next revision; any failure lists again after a backoff.
func (r *revokedSet) watch(ctx context.Context, cli *clientv3.Client, log hclog.Logger) {
	every.Retry(ctx, 10*time.Second, func(ctx context.Context) error { return r.watchOnce(ctx, cli) },
		func(err error) { log.Warn("watching revoked certificates, listing again", "error", err) })
}

func (r *revokedSet) watchOnce(ctx context.Context, cli *clientv3.Client) error {
	rev, err := r.load(ctx, cli)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range cli.Watch(wctx, revokedPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			return err
		}
		for _, ev := range resp.Events {
			if ev.Type == mvccpb.PUT {
				r.add(strings.TrimPrefix(string(ev.Kv.Key), revokedPrefix))
			}
		}
	}
	return fmt.Errorf("watch of revoked certificates ended: %w", ctx.Err())
}

// revokeNodeCerts revokes every certificate issued to node id (an agent's
// node id, or any member's id), in one transaction, and stops accepting
// them here at once. The node-removal path calls it before forgetting the
// node; revoking a node that holds no certificates does nothing.
func (c *Controller) revokeNodeCerts(ctx context.Context, id string) error {
	_, err := c.revokeCerts(ctx, id)
	return err
}

// revokeCerts is revokeNodeCerts that also says how many records it revoked,
// expired ones included.
func (c *Controller) revokeCerts(ctx context.Context, id string) (int, error) {
	resp, err := c.cli.Get(ctx, issuedPrefix+id+"/", clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("%w: read certificates of %s: %v", errUnavailable, id, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	var serials []string
	// etcd caps the operations of one transaction (128 by default), so
	// revoke in batches; a crash between two leaves the rest to a retry.
	for batch := range slices.Chunk(resp.Kvs, 50) {
		var ops []clientv3.Op
		for _, kv := range batch {
			serial := strings.TrimPrefix(string(kv.Key), issuedPrefix+id+"/")
			serials = append(serials, serial)
			ops = append(ops, clientv3.OpPut(revokedPrefix+serial, revokedValue(id, kv.Value)),
				clientv3.OpDelete(string(kv.Key)))
		}
		if _, err := c.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return 0, fmt.Errorf("%w: revoke certificates of %s: %v", errUnavailable, id, err)
		}
	}
	c.trust.revoked.add(serials...)
	c.log.Info("revoked certificates", "node", id, "count", len(serials))
	return len(serials), nil
}

// revokedValue is a revoked record's value, "<id> <not-after>", made from
// the issued record's; an unreadable one is kept whole rather than lost.
func revokedValue(id string, issued []byte) string {
	if _, notAfter, err := parseIssued(issued); err == nil {
		return id + " " + notAfter.UTC().Format(time.RFC3339)
	}
	return id + " " + string(issued)
}
