package fleet

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// ctlJSON runs `zaki ctl ARGS -o json` in the fleet and decodes its output.
func (f *fleet) ctlJSON(v any, args ...string) error {
	out, err := f.sh(time.Minute, append(append([]string{"ctl"}, args...), "-o", "json")...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("zaki ctl %s -o json: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// nodeInfo is what the suite reads of `zaki ctl nodes -o json`.
type nodeInfo struct {
	State     string // NODE_STATE_ACTIVE, ...
	Connected bool
	Tenants   int
}

func (f *fleet) nodes() (map[string]nodeInfo, error) {
	var out struct {
		Nodes []struct {
			Node struct {
				ID    string
				State string
			}
			Connected bool
			Tenants   int
		}
	}
	if err := f.ctlJSON(&out, "nodes"); err != nil {
		return nil, err
	}
	m := map[string]nodeInfo{}
	for _, n := range out.Nodes {
		m[n.Node.ID] = nodeInfo{State: n.Node.State, Connected: n.Connected, Tenants: n.Tenants}
	}
	return m, nil
}

// tenantInfo is what the suite reads of `zaki ctl tenants -o json`.
type tenantInfo struct {
	Node       string
	State      string // PLACEMENT_STATE_RUNNING, ...
	Reason     string // why it is not running, or waits
	Parked     int
	Generation uint64
	MovingTo   string // the target of a move in flight, or ""
}

func (f *fleet) tenants() (map[string]tenantInfo, error) {
	var out struct {
		Tenants []struct {
			Tenant    struct{ ID string }
			Placement struct {
				NodeID string
				State  string
				Reason string
				// protojson writes 64-bit integers as strings.
				Generation uint64 `json:",string"`
				Move       *struct{ ToNodeID string }
			}
			ParkedUpdates int
		}
	}
	if err := f.ctlJSON(&out, "tenants"); err != nil {
		return nil, err
	}
	m := map[string]tenantInfo{}
	for _, ts := range out.Tenants {
		p := ts.Placement
		info := tenantInfo{Node: p.NodeID, State: p.State, Reason: p.Reason, Parked: ts.ParkedUpdates,
			Generation: p.Generation}
		if p.Move != nil {
			info.MovingTo = p.Move.ToNodeID
		}
		m[ts.Tenant.ID] = info
	}
	return m, nil
}

// waitNode waits until node is in state (NODE_STATE_...) and, for an
// active node, connected.
func (f *fleet) waitNode(t *testing.T, node, state string, timeout time.Duration) {
	t.Helper()
	waitUntil(t, timeout, "node "+node+" "+state, func() error {
		nodes, err := f.nodes()
		if err != nil {
			return err
		}
		n, ok := nodes[node]
		switch {
		case !ok:
			return fmt.Errorf("no node %s", node)
		case n.State != state:
			return fmt.Errorf("node %s is %s", node, n.State)
		case state == "NODE_STATE_ACTIVE" && !n.Connected:
			return fmt.Errorf("node %s is active but not connected", node)
		}
		return nil
	})
}

// controlPlane is what the suite reads of `zaki ctl controlplanes -o json`.
type controlPlane struct {
	ID     string
	Leader bool
}

// controlPlanes lists the registered control-plane replicas, in the order
// zaki ctl prints them.
func (f *fleet) controlPlanes() ([]controlPlane, error) {
	var out struct{ ControlPlanes []controlPlane }
	if err := f.ctlJSON(&out, "controlplanes"); err != nil {
		return nil, err
	}
	return out.ControlPlanes, nil
}

// leader is the id of the control plane that leads, or an error when the
// replicas listed name none or several.
func (f *fleet) leader() (string, []controlPlane, error) {
	cps, err := f.controlPlanes()
	if err != nil {
		return "", nil, err
	}
	var leaders []string
	for _, cp := range cps {
		if cp.Leader {
			leaders = append(leaders, cp.ID)
		}
	}
	if len(leaders) != 1 {
		return "", cps, fmt.Errorf("%d leaders among %d control planes: %v", len(leaders), len(cps), cps)
	}
	return leaders[0], cps, nil
}

// ctl runs `zaki ctl ARGS` in the fleet, for a command whose output the
// suite reads as a person would; it fails t when zaki ctl does.
func (f *fleet) ctl(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	out, err := f.sh(timeout, append([]string{"ctl"}, args...)...)
	if err != nil {
		t.Fatalf("zaki ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
