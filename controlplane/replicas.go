package controlplane

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/protobuf/proto"
)

// The replica registry: controlplanes/<id> = ControlPlane, under the
// replica's session lease, so a replica that stops or loses etcd for longer
// than its TTL drops out of the listing by itself.
const controlPlanesPrefix = prefix + "controlplanes/"

func controlPlaneKey(id string) string { return controlPlanesPrefix + id }

// replicaDefaults sets the id and TTL defaults; it runs after etcdDefaults.
// The id defaults to the etcd member's name, which a cluster already keeps
// unique; with an external etcd, to the host name.
func (c Config) replicaDefaults() Config {
	if c.ID == "" && len(c.EtcdEndpoints) == 0 {
		c.ID = c.EtcdName
	}
	if c.ID == "" {
		if host, err := os.Hostname(); err == nil {
			c.ID = host
		}
	}
	if c.ReplicaTTL <= 0 {
		c.ReplicaTTL = defaultReplicaTTL
	}
	if c.etcdProbe <= 0 {
		c.etcdProbe = defaultEtcdProbe
	}
	return c
}

// checkReplicaID refuses an id that cannot name a key or sit in an alive
// value: 1 to 63 of A-Z a-z 0-9 . _ -.
func checkReplicaID(id string) error {
	valid := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)
	}
	if id == "" || len(id) > 63 || strings.IndexFunc(id, func(r rune) bool { return !valid(r) }) >= 0 {
		return fmt.Errorf("%w: control plane id %q: use 1 to 63 of A-Z a-z 0-9 . _ - (--id, default --etcd-name "+
			"or the host name)", errInvalid, id)
	}
	return nil
}

// register records this replica under s's lease. An entry of the same id
// under another lease is a previous run of this replica that did not stop
// cleanly, which expires within the TTL, or another replica given the same
// id, which does not: register waits for it for twice the TTL, then fails.
func (c *Controller) register(ctx context.Context, s *concurrency.Session) error {
	key := controlPlaneKey(c.rep.id)
	deadline := time.Now().Add(2 * time.Duration(c.rep.ttl) * time.Second)
	for logged := false; ; logged = true {
		resp, err := c.cli.Txn(ctx).If(absent(key)).
			Then(clientv3.OpPut(key, string(c.rep.self), clientv3.WithLease(s.Lease()))).
			Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return fmt.Errorf("%w: register control plane %s: %v", errUnavailable, c.rep.id, err)
		}
		if resp.Succeeded {
			return nil
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			continue // it expired between the compare and the get
		}
		if clientv3.LeaseID(kvs[0].Lease) == s.Lease() {
			return nil
		}
		other := decodeControlPlane(kvs[0])
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: another control plane is registered as %s (at %s, started %s): give each "+
				"replica its own --id (default: its --etcd-name)", errInvalid, c.rep.id, other.GrpcAddress,
				other.StartedAt.AsTime().Format(time.RFC3339))
		}
		if !logged {
			c.log.Info("waiting for an earlier registration of this control plane's id to expire",
				"id", c.rep.id, "addr", other.GrpcAddress)
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// ListControlPlanes returns the registered replicas, by id, the leader
// marked: the holder of the oldest election key.
func (c *Controller) ListControlPlanes(ctx context.Context) ([]*zakiv1.ControlPlane, error) {
	resp, err := c.cli.Txn(ctx).Then(
		clientv3.OpGet(controlPlanesPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(electionPrefix+"/", clientv3.WithFirstCreate()...),
	).Commit()
	if err != nil {
		return nil, fmt.Errorf("%w: list control planes: %v", errUnavailable, err)
	}
	leader := ""
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) == 1 {
		leader = decodeControlPlane(kvs[0]).Id
	}
	var out []*zakiv1.ControlPlane
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		cp := decodeControlPlane(kv)
		cp.Leader = cp.Id == leader
		out = append(out, cp)
	}
	return out, nil
}

// decodeControlPlane reads a registry or election value; an unreadable one
// is listed by its key rather than hidden.
func decodeControlPlane(kv *mvccpb.KeyValue) *zakiv1.ControlPlane {
	cp := &zakiv1.ControlPlane{}
	if err := proto.Unmarshal(kv.Value, cp); err != nil || cp.Id == "" {
		return &zakiv1.ControlPlane{Id: string(kv.Key) + " (unreadable)"}
	}
	return cp
}
