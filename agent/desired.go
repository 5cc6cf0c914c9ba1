package agent

import (
	"context"
	"fmt"
	"sort"

	"github.com/docker/docker/api/types/container"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// register is the session's first message.
func (a *Agent) register(running []*zakiv1.ContainerStatus) *zakiv1.Register {
	c := a.cfg
	return &zakiv1.Register{
		ProtocolVersion: ProtocolVersion,
		Node: &zakiv1.Node{
			Id:              c.NodeID,
			Address:         c.Address,
			PortMin:         c.PortMin,
			PortMax:         c.PortMax,
			MemoryBytes:     c.MemoryBytes,
			MaxTenants:      c.MaxTenants,
			Labels:          c.Labels,
			AgentVersion:    c.Version,
			TransferAddress: a.transferAddr,
		},
		Running: running,
	}
}

// running lists what this node's engine holds for each tenant, for Register.
// A status the agent already reported for that very container wins; the
// rest are described from the engine (STARTING until probed by a worker).
// A status of a tenant with no container here (DISCARDED, or FAILED before
// anything was made) cannot ride in Register, so it is sent again after the
// handshake: the control plane may never have heard it, and the worker
// does not repeat a status it already published.
func (a *Agent) running(ctx context.Context) ([]*zakiv1.ContainerStatus, error) {
	cs, err := a.eng.list(ctx, "")
	if err != nil {
		return nil, err
	}
	a.board.markAllDirty()
	known := map[string]*zakiv1.ContainerStatus{}
	for _, st := range a.board.takeDirty() {
		known[st.GetTenantId()] = st
	}
	var out []*zakiv1.ContainerStatus
	for _, c := range cs {
		tenant := c.Labels[LabelTenant]
		if tenant == "" {
			continue
		}
		if st := known[tenant]; st != nil && st.GetContainerId() == c.ID {
			out = append(out, st)
			continue
		}
		out = append(out, engineStatus(tenant, c))
	}
	for _, st := range out {
		delete(known, st.GetTenantId())
	}
	for t := range known {
		a.board.markDirty(t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetTenantId() < out[j].GetTenantId() })
	return out, nil
}

// engineStatus describes a container the agent has not probed yet.
func engineStatus(tenant string, c container.Summary) *zakiv1.ContainerStatus {
	st := &zakiv1.ContainerStatus{
		TenantId:    tenant,
		Generation:  generationOf(c.Labels),
		State:       zakiv1.PlacementState_PLACEMENT_STATE_STARTING,
		ContainerId: c.ID,
	}
	if s := string(c.State); s != "running" && s != "created" && s != "restarting" {
		st.State = zakiv1.PlacementState_PLACEMENT_STATE_FAILED
		st.Reason = fmt.Sprintf("container is %s (%s)", s, c.Status)
	}
	return st
}

// applyDesired makes the complete desired set the workers' wants: every
// assignment in it is run, and every tenant of this node not in it, whether
// a worker knows it or only the engine does, is removed.
func (a *Agent) applyDesired(ctx context.Context, set *zakiv1.DesiredSet) error {
	cs, err := a.eng.list(ctx, "")
	if err != nil {
		return err
	}
	wanted := map[string]bool{}
	for _, as := range set.GetAssignments() {
		wanted[as.GetTenantId()] = true
		a.setWant(as.GetTenantId(), as)
	}
	unwanted := map[string]bool{}
	for _, c := range cs {
		if t := c.Labels[LabelTenant]; t != "" && !wanted[t] {
			unwanted[t] = true
		}
		// A loader left by an agent that died mid-move, for a tenant no
		// longer coming here: its worker's removeAll removes it.
		if t := c.Labels[LabelLoader]; t != "" && !wanted[t] {
			unwanted[t] = true
		}
	}
	a.mu.Lock()
	for t := range a.tenants {
		if !wanted[t] {
			unwanted[t] = true
		}
	}
	a.mu.Unlock()
	for t := range unwanted {
		a.setWant(t, nil)
	}
	a.log.Info("desired set applied")
	return nil
}
