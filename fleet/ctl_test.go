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
	Node   string
	State  string // PLACEMENT_STATE_RUNNING, ...
	Reason string // why it is not running, or waits
	Parked int
}

func (f *fleet) tenants() (map[string]tenantInfo, error) {
	var out struct {
		Tenants []struct {
			Tenant    struct{ ID string }
			Placement struct {
				NodeID string
				State  string
				Reason string
			}
			ParkedUpdates int
		}
	}
	if err := f.ctlJSON(&out, "tenants"); err != nil {
		return nil, err
	}
	m := map[string]tenantInfo{}
	for _, ts := range out.Tenants {
		m[ts.Tenant.ID] = tenantInfo{Node: ts.Placement.NodeID, State: ts.Placement.State,
			Reason: ts.Placement.Reason, Parked: ts.ParkedUpdates}
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
