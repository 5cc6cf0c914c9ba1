package controlplane

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// view is the cluster state (everything but parked updates) as of one etcd
// revision. It is read whole by loadView and then kept current by applying
// watch events, so assignments and routes are computed from a consistent
// picture.
//
// TODO(#4): every stream keeps a whole copy; at scale, share one watched
// view per process.
type view struct {
	// profiles resolves tenants' assistant profiles (profile.Lookup).
	profiles   profileLookup
	rev        int64
	botID      int64
	nodes      map[string]*zakiv1.Node
	tenants    map[string]*zakiv1.Tenant
	secrets    map[string]*zakiv1.TenantSecrets
	placements map[string]*zakiv1.Placement
	// placementRevs are the mod revisions of placements, for guarded updates.
	placementRevs map[string]int64
	// ports maps node id -> port -> tenant id.
	ports map[string]map[uint32]string
	// bindings maps chat id -> tenant id.
	bindings map[int64]string
	// down maps node id -> when it was marked DOWN (view_fleet.go).
	down map[string]time.Time
	// tiers are the tiers stored in settings; built-in ones fill the gaps.
	tiers map[string]*zakiv1.Tier
	// cooling maps node id -> port -> true while a released port cools down.
	cooling map[string]map[uint32]bool
	// leftovers maps node id -> tenant id -> what a finished move left there
	// (leftovers.go).
	leftovers map[string]map[string]*zakiv1.Placement
}

func newView() *view {
	return &view{
		nodes:         map[string]*zakiv1.Node{},
		tenants:       map[string]*zakiv1.Tenant{},
		secrets:       map[string]*zakiv1.TenantSecrets{},
		placements:    map[string]*zakiv1.Placement{},
		placementRevs: map[string]int64{},
		ports:         map[string]map[uint32]string{},
		bindings:      map[int64]string{},
		down:          map[string]time.Time{},
		tiers:         map[string]*zakiv1.Tier{},
		cooling:       map[string]map[uint32]bool{},
		leftovers:     map[string]map[string]*zakiv1.Placement{},
	}
}

// viewPrefixes are the key ranges a view holds; parked updates are not in it.
var viewPrefixes = []string{nodesPrefix, prefix + "settings/", tenantsPrefix, secretsPrefix,
	placementPrefix, portsPrefix, bindingsPrefix, downPrefix, cooldownPrefix, leftoversPrefix}

// loadView reads every range of the view in one transaction, so all of it
// is at one revision.
func loadView(ctx context.Context, kv clientv3.KV, profiles profileLookup) (*view, error) {
	ops := make([]clientv3.Op, 0, len(viewPrefixes))
	for _, p := range viewPrefixes {
		ops = append(ops, clientv3.OpGet(p, clientv3.WithPrefix()))
	}
	resp, err := kv.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, fmt.Errorf("read cluster state: %w", err)
	}
	v := newView()
	v.profiles = profiles
	v.rev = resp.Header.Revision
	for _, r := range resp.Responses {
		for _, kv := range r.GetResponseRange().Kvs {
			if err := v.put(kv); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// apply updates the view with one watch event. It reports whether the event
// was about the view at all (parked updates are not).
func (v *view) apply(ev *clientv3.Event) (bool, error) {
	if ev.Kv.ModRevision > v.rev {
		v.rev = ev.Kv.ModRevision
	}
	if ev.Type == mvccpb.DELETE {
		return v.remove(string(ev.Kv.Key)), nil
	}
	if !strings.HasPrefix(string(ev.Kv.Key), parkedPrefix) {
		return true, v.put(ev.Kv)
	}
	return false, nil
}

// put decodes one key into the view; unknown keys are ignored.
func (v *view) put(kv *mvccpb.KeyValue) error {
	key, val := string(kv.Key), kv.Value
	if handled, err := v.putFleet(key, val); handled {
		return err
	}
	switch {
	case key == botIDKey:
		id, err := strconv.ParseInt(string(val), 10, 64)
		if err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		v.botID = id
	case strings.HasPrefix(key, nodesPrefix):
		return decodeInto(key, val, v.nodes, nodesPrefix)
	case strings.HasPrefix(key, tenantsPrefix):
		return decodeInto(key, val, v.tenants, tenantsPrefix)
	case strings.HasPrefix(key, secretsPrefix):
		return decodeInto(key, val, v.secrets, secretsPrefix)
	case strings.HasPrefix(key, placementPrefix):
		v.placementRevs[strings.TrimPrefix(key, placementPrefix)] = kv.ModRevision
		return decodeInto(key, val, v.placements, placementPrefix)
	case strings.HasPrefix(key, portsPrefix):
		if node, port, ok := parsePortKey(key); ok {
			if v.ports[node] == nil {
				v.ports[node] = map[uint32]string{}
			}
			v.ports[node][port] = string(val)
		}
	case strings.HasPrefix(key, bindingsPrefix):
		chat, err := strconv.ParseInt(strings.TrimPrefix(key, bindingsPrefix), 10, 64)
		if err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		v.bindings[chat] = string(val)
	}
	return nil
}

// remove drops one key from the view and reports whether it was in it.
func (v *view) remove(key string) bool {
	if v.removeFleet(key) {
		return true
	}
	switch {
	case key == botIDKey:
		v.botID = 0
	case strings.HasPrefix(key, nodesPrefix):
		delete(v.nodes, strings.TrimPrefix(key, nodesPrefix))
	case strings.HasPrefix(key, tenantsPrefix):
		delete(v.tenants, strings.TrimPrefix(key, tenantsPrefix))
	case strings.HasPrefix(key, secretsPrefix):
		delete(v.secrets, strings.TrimPrefix(key, secretsPrefix))
	case strings.HasPrefix(key, placementPrefix):
		delete(v.placements, strings.TrimPrefix(key, placementPrefix))
		delete(v.placementRevs, strings.TrimPrefix(key, placementPrefix))
	case strings.HasPrefix(key, portsPrefix):
		if node, port, ok := parsePortKey(key); ok {
			delete(v.ports[node], port)
		}
	case strings.HasPrefix(key, bindingsPrefix):
		chat, err := strconv.ParseInt(strings.TrimPrefix(key, bindingsPrefix), 10, 64)
		if err == nil {
			delete(v.bindings, chat)
		}
	default:
		return false
	}
	return true
}

// decodeInto unmarshals val into a new message stored in m under the key's id.
func decodeInto[M any, PM interface {
	*M
	proto.Message
}](key string, val []byte, m map[string]PM, pfx string) error {
	msg := PM(new(M))
	if err := proto.Unmarshal(val, msg); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	m[strings.TrimPrefix(key, pfx)] = msg
	return nil
}

// chatIDs returns the chats bound to each tenant, sorted.
func (v *view) chatIDs() map[string][]int64 {
	out := map[string][]int64{}
	for chat, t := range v.bindings {
		out[t] = append(out[t], chat)
	}
	for _, ids := range out {
		slices.Sort(ids)
	}
	return out
}
