package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// writeNodes prints one line per node, the way an operator scans a fleet.
func writeNodes(w io.Writer, nodes []*zakiv1.NodeStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tSTATE\tSESSION\tLAST HEARTBEAT\tTENANTS\tMEMORY RESERVED\tPORTS")
	for _, ns := range nodes {
		n := ns.GetNode()
		session := "disconnected"
		if ns.GetConnected() {
			session = "connected"
		}
		last := "never"
		if n.GetState() == zakiv1.NodeState_NODE_STATE_UNKNOWN {
			// Heartbeats are kept in memory only: a restarted control plane
			// has heard none yet, which is not "never".
			last = "none since restart"
		}
		if hb := ns.GetLastHeartbeat(); hb != nil {
			last = now.Sub(hb.AsTime()).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s/%s\t%d-%d\n",
			n.GetId(), n.GetAddress(), nodeStateWord(ns), session, last,
			ns.GetTenants(), n.GetMaxTenants(), mib(ns.GetMemoryReservedBytes()), mib(n.GetMemoryBytes()),
			n.GetPortMin(), n.GetPortMax())
	}
	return tw.Flush()
}

// writeTenants prints one line per tenant, with the reason when it is not running.
func writeTenants(w io.Writer, tenants []*zakiv1.TenantStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tKIND\tOWNER\tCHATS\tPROFILE\tNODE\tPORT\tGEN\tSTATE\tPARKED\tREASON")
	for _, ts := range tenants {
		t, p := ts.GetTenant(), ts.GetPlacement()
		chats := make([]string, 0, len(ts.GetChatIds()))
		for _, id := range ts.GetChatIds() {
			chats = append(chats, strconv.FormatInt(id, 10))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n",
			t.GetId(), enumWord(t.GetKind().String(), "TENANT_KIND_"), t.GetOwnerUserId(),
			strings.Join(chats, ","), t.GetProfile(), dash(p.GetNodeId()), port(p.GetHostPort()),
			p.GetGeneration(), placementStateWord(p), ts.GetParkedUpdates(), dash(placementReason(p)))
	}
	return tw.Flush()
}

// nodeStateWord is a node's state as listed; a draining node that holds
// nothing any more is "drained".
func nodeStateWord(ns *zakiv1.NodeStatus) string {
	st := ns.GetNode().GetState()
	if st == zakiv1.NodeState_NODE_STATE_DRAINING && ns.GetTenants() == 0 {
		return "drained"
	}
	return enumWord(st.String(), "NODE_STATE_")
}

// placementStateWord is a placement's state as listed: a move shows where
// it goes and how far it has come, "moving -> node-b (copying)".
func placementStateWord(p *zakiv1.Placement) string {
	if m := p.GetMove(); m != nil {
		return fmt.Sprintf("moving -> %s (%s)", m.GetToNodeId(), enumWord(m.GetPhase().String(), "MOVE_PHASE_"))
	}
	return enumWord(p.GetState().String(), "PLACEMENT_STATE_")
}

// placementReason is why a placement is as it is: its own reason, else its
// move's last failure.
func placementReason(p *zakiv1.Placement) string {
	if p.GetReason() == "" && p.GetMove().GetReason() != "" {
		return "move failed, retrying: " + p.GetMove().GetReason()
	}
	return p.GetReason()
}

func enumWord(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func port(p uint32) string {
	if p == 0 {
		return "-"
	}
	return strconv.FormatUint(uint64(p), 10)
}

func mib(b int64) string { return strconv.FormatInt(b>>20, 10) + "Mi" }
