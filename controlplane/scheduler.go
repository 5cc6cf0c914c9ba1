package controlplane

import (
	"fmt"
	"sort"
	"strings"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/profile"
)

// Scheduling failure reasons, the label values of the failures metric.
const (
	reasonUnknownProfile = "unknown_profile"
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

// usageByNode sums the placed (non-PENDING) tenants per node. Tenants whose
// profile this binary does not know reserve nothing.
func usageByNode(v *view) map[string]usage {
	out := map[string]usage{}
	for id, p := range v.placements {
		if p.State == zakiv1.PlacementState_PLACEMENT_STATE_PENDING || p.NodeId == "" {
			continue
		}
		u := out[p.NodeId]
		u.tenants++
		if t := v.tenants[id]; t != nil {
			if mem, err := v.memoryOf(t.Profile); err == nil {
				u.memBytes += mem
			}
		}
		out[p.NodeId] = u
	}
	return out
}

// schedule picks a node and port for tenant t: filter (live session, ACTIVE,
// room for one more tenant and its memory, a free port), then score by
// bin-packing (the most reserved memory that still fits; ties by node id).
// It is pure: connected says which nodes have a live session.
func schedule(v *view, connected map[string]bool, t *zakiv1.Tenant) choice {
	need, err := v.memoryOf(t.Profile)
	if err != nil {
		return choice{failure: reasonUnknownProfile, detail: err.Error()}
	}
	if len(v.nodes) == 0 {
		return choice{failure: reasonNoNodes, detail: "no nodes have registered"}
	}
	use := usageByNode(v)
	var fits []string
	var why []string
	for _, id := range sortedKeys(v.nodes) {
		if reason := unfit(v.nodes[id], connected[id], use[id], need, v.ports[id]); reason != "" {
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
		return use[fits[i]].memBytes > use[fits[j]].memBytes
	})
	best := v.nodes[fits[0]]
	port, _ := freePort(best, v.ports[best.Id])
	return choice{nodeID: best.Id, port: port}
}

// unfit says why node n cannot take a tenant needing need bytes, or "".
func unfit(n *zakiv1.Node, live bool, u usage, need int64, ports map[uint32]string) string {
	switch {
	case !live:
		return "not connected"
	case n.State != zakiv1.NodeState_NODE_STATE_ACTIVE:
		return "state " + stateName(n.State)
	case n.MaxTenants > 0 && u.tenants >= n.MaxTenants:
		return fmt.Sprintf("full (%d/%d tenants)", u.tenants, n.MaxTenants)
	case u.memBytes+need > n.MemoryBytes:
		return fmt.Sprintf("memory (%d reserved + %d needed > %d)", u.memBytes, need, n.MemoryBytes)
	}
	if _, ok := freePort(n, ports); !ok {
		return fmt.Sprintf("no free port in %d-%d", n.PortMin, n.PortMax)
	}
	return ""
}

// freePort is the lowest port of n's range not claimed in used.
func freePort(n *zakiv1.Node, used map[uint32]string) (uint32, bool) {
	for p := n.PortMin; p <= n.PortMax && p != 0; p++ {
		if _, taken := used[p]; !taken {
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
