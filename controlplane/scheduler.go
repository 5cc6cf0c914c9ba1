package controlplane

import (
	"fmt"
	"sort"
	"strings"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/profile"
)

// Scheduling failure reasons, the label values of the failures metric.
const (
	reasonUnknownProfile = "unknown_profile"
	reasonUnknownTier    = "unknown_tier"
	reasonNoNodes        = "no_nodes"
	reasonNoRoom         = "no_room"
)

// choice is where the scheduler put a tenant, or why it could not.
type choice struct {
	nodeID string
	port   uint32
	// failure is one of the reason* constants when nothing fits; detail is
	// the human reason stored on the PENDING placement.
	failure string
	detail  string
}

// usage is what is already reserved on a node.
type usage struct {
	tenants  uint32
	memBytes int64
}

// profileLookup finds an assistant profile by name; profile.Lookup in
// production, a fixed table in tests.
type profileLookup func(name string) (profile.Profile, error)

// memoryOf returns the memory a profile reserves, or an error for an unknown
// profile.
func (v *view) memoryOf(name string) (int64, error) {
	p, err := v.profiles(name)
	if err != nil {
		return 0, err
	}
	return p.MemoryBytes, nil
}

// usageByNode sums the placed (non-PENDING) tenants per node, each reserving
// the larger of its tier's and its profile's memory. A moving tenant counts
// on its source and on its target until the flip: it runs on one, its data
// lands on the other, and neither may be overbooked meanwhile.
func usageByNode(v *view) map[string]usage {
	out := map[string]usage{}
	add := func(node string, t *zakiv1.Tenant) {
		u := out[node]
		u.tenants++
		if t != nil {
			u.memBytes += v.reservedBy(t)
		}
		out[node] = u
	}
	for id, p := range v.placements {
		if p.State == zakiv1.PlacementState_PLACEMENT_STATE_PENDING || p.NodeId == "" {
			continue
		}
		add(p.NodeId, v.tenants[id])
		if to := p.GetMove().GetToNodeId(); to != "" {
			add(to, v.tenants[id])
		}
	}
	return out
}

// schedule picks a node and port for tenant t. Filter: a live session, not
// down, ACTIVE, the tier's label constraints, room for one more tenant and
// its memory, a port neither claimed nor cooling down. Score by policy:
// bin-pack takes the fullest node that fits, spread the emptiest (by share
// of memory reserved, then tenants, then node id). It is pure: connected
// says which nodes have a live session.
func schedule(v *view, connected map[string]bool, t *zakiv1.Tenant, policy zakiv1.SchedulerPolicy) choice {
	return scheduleExcept(v, connected, t, policy, nil)
}

// scheduleExcept is schedule with one more filter: skip, when set, says why
// a node may not take t ("" when it may), before the usual filter runs.
// Drains use it to keep a tenant off its own node and off nodes that cannot
// receive a move.
func scheduleExcept(v *view, connected map[string]bool, t *zakiv1.Tenant,
	policy zakiv1.SchedulerPolicy, skip func(nodeID string) string) choice {
	d, failure, err := v.demandOf(t)
	if err != nil {
		return choice{failure: failure, detail: err.Error()}
	}
	if len(v.nodes) == 0 {
		return choice{failure: reasonNoNodes, detail: "no nodes have registered"}
	}
	use := usageByNode(v)
	var fits, why []string
	for _, id := range sortedKeys(v.nodes) {
		reason := ""
		if skip != nil {
			reason = skip(id)
		}
		if reason == "" {
			reason = unfit(v, id, connected[id], use[id], d)
		}
		if reason != "" {
			why = append(why, id+": "+reason)
			continue
		}
		fits = append(fits, id)
	}
	if len(fits) == 0 {
		return choice{failure: reasonNoRoom,
			detail: "no node can take it (" + strings.Join(why, "; ") + ")"}
	}
	sort.SliceStable(fits, func(i, j int) bool {
		return before(policy, v.nodes[fits[i]], use[fits[i]], v.nodes[fits[j]], use[fits[j]])
	})
	best := v.nodes[fits[0]]
	port, _ := freePort(best, v.ports[best.Id], v.cooling[best.Id])
	return choice{nodeID: best.Id, port: port}
}

// before reports whether node a (with usage ua) scores above node b.
func before(policy zakiv1.SchedulerPolicy, a *zakiv1.Node, ua usage, b *zakiv1.Node, ub usage) bool {
	// Compare ua/a.mem with ub/b.mem without dividing.
	sa, sb := float64(ua.memBytes)*float64(b.MemoryBytes), float64(ub.memBytes)*float64(a.MemoryBytes)
	if policy == zakiv1.SchedulerPolicy_SCHEDULER_POLICY_SPREAD {
		if sa != sb {
			return sa < sb
		}
		return ua.tenants < ub.tenants
	}
	if sa != sb {
		return sa > sb
	}
	return ua.tenants > ub.tenants
}

// unfit says why node id cannot take a tenant with demand d, or "".
func unfit(v *view, id string, live bool, u usage, d demand) string {
	n := v.nodes[id]
	if since, down := v.nodeDown(id); down {
		return "down since " + since.UTC().Format(time.RFC3339)
	}
	if missing := missingLabels(n.Labels, d.constraints); len(missing) > 0 {
		return "labels (tier needs " + strings.Join(missing, ",") + ")"
	}
	switch {
	case !live:
		return "not connected"
	case n.State != zakiv1.NodeState_NODE_STATE_ACTIVE:
		return "state " + stateName(n.State)
	case n.MaxTenants > 0 && u.tenants >= n.MaxTenants:
		return fmt.Sprintf("full (%d/%d tenants)", u.tenants, n.MaxTenants)
	case u.memBytes+d.memBytes > n.MemoryBytes:
		return fmt.Sprintf("memory (%d reserved + %d needed > %d)", u.memBytes, d.memBytes, n.MemoryBytes)
	}
	if _, ok := freePort(n, v.ports[id], v.cooling[id]); !ok {
		return fmt.Sprintf("no free port in %d-%d (claimed or cooling down)", n.PortMin, n.PortMax)
	}
	return ""
}

// freePort is the lowest port of n's range neither claimed in used nor
// cooling down.
func freePort(n *zakiv1.Node, used map[uint32]string, cooling map[uint32]bool) (uint32, bool) {
	for p := n.PortMin; p <= n.PortMax && p != 0; p++ {
		if _, taken := used[p]; !taken && !cooling[p] {
			return p, true
		}
		if p == ^uint32(0) {
			break
		}
	}
	return 0, false
}

func stateName(s zakiv1.NodeState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "NODE_STATE_"))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
