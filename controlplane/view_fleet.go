package controlplane

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The fleet's keys: node liveness, released ports cooling down, and tiers.
const (
	// downPrefix holds <node_id> = the RFC 3339 time the node was marked
	// DOWN. It is kept apart from the node record so that an operator's
	// cordon survives the node going down and coming back.
	downPrefix = prefix + "down/"
	// cooldownPrefix holds <node_id>/<port> = the tenant that released the
	// port, under a lease that ends the cooldown.
	cooldownPrefix = prefix + "cooldown/"
	// tiersPrefix holds <name> Tier; built-in tiers fill the gaps.
	tiersPrefix = prefix + "settings/tiers/"
)

func downKey(nodeID string) string { return downPrefix + nodeID }
func tierKey(name string) string   { return tiersPrefix + name }

func cooldownKey(nodeID string, port uint32) string {
	return fmt.Sprintf("%s%s/%d", cooldownPrefix, nodeID, port)
}

// parseNodePortKey splits <pfx><node_id>/<port>.
func parseNodePortKey(key, pfx string) (nodeID string, port uint32, ok bool) {
	rest, found := strings.CutPrefix(key, pfx)
	if !found {
		return "", 0, false
	}
	nodeID, p, found := strings.Cut(rest, "/")
	if !found {
		return "", 0, false
	}
	n, err := strconv.ParseUint(p, 10, 32)
	if err != nil {
		return "", 0, false
	}
	return nodeID, uint32(n), true
}

// putFleet decodes a fleet key into the view and reports whether key was one.
func (v *view) putFleet(key string, val []byte) (bool, error) {
	switch {
	case strings.HasPrefix(key, downPrefix):
		since, err := time.Parse(time.RFC3339Nano, string(val))
		if err != nil {
			return true, fmt.Errorf("decode %s: %w", key, err)
		}
		v.down[strings.TrimPrefix(key, downPrefix)] = since
	case strings.HasPrefix(key, cooldownPrefix):
		if node, port, ok := parseNodePortKey(key, cooldownPrefix); ok {
			if v.cooling[node] == nil {
				v.cooling[node] = map[uint32]bool{}
			}
			v.cooling[node][port] = true
		}
	case strings.HasPrefix(key, tiersPrefix):
		return true, decodeInto(key, val, v.tiers, tiersPrefix)
	case strings.HasPrefix(key, leftoversPrefix):
		return true, v.putLeftover(key, val)
	default:
		return false, nil
	}
	return true, nil
}

// removeFleet drops a fleet key from the view and reports whether key was one.
func (v *view) removeFleet(key string) bool {
	switch {
	case strings.HasPrefix(key, downPrefix):
		delete(v.down, strings.TrimPrefix(key, downPrefix))
	case strings.HasPrefix(key, cooldownPrefix):
		if node, port, ok := parseNodePortKey(key, cooldownPrefix); ok {
			delete(v.cooling[node], port)
		}
	case strings.HasPrefix(key, tiersPrefix):
		delete(v.tiers, strings.TrimPrefix(key, tiersPrefix))
	case strings.HasPrefix(key, leftoversPrefix):
		v.removeLeftover(key)
	default:
		return false
	}
	return true
}

// nodeDown reports whether node id is marked DOWN, and since when.
func (v *view) nodeDown(id string) (time.Time, bool) {
	since, ok := v.down[id]
	return since, ok
}
