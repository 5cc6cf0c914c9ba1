package controlplane

import (
	"fmt"
	"strconv"
	"strings"
)

// The etcd layout. Every value is a proto-marshalled gen/zaki/v1 message,
// except ports, bindings (a tenant id) and the bot id (a decimal).
const (
	prefix          = "/zaki/v1/"
	nodesPrefix     = prefix + "nodes/" // <node_id> Node
	botIDKey        = prefix + "settings/bot_id"
	tenantsPrefix   = prefix + "tenants/"    // <tenant_id> Tenant
	secretsPrefix   = prefix + "secrets/"    // <tenant_id> TenantSecrets
	placementPrefix = prefix + "placements/" // <tenant_id> Placement
	portsPrefix     = prefix + "ports/"      // <node_id>/<port> = tenant_id
	bindingsPrefix  = prefix + "bindings/"   // <chat_id> = tenant_id
	parkedPrefix    = prefix + "parked/"     // <tenant_id>/<update_id:%020d> ParkedUpdate
)

func nodeKey(id string) string           { return nodesPrefix + id }
func tenantKey(id string) string         { return tenantsPrefix + id }
func secretsKey(id string) string        { return secretsPrefix + id }
func placementKey(id string) string      { return placementPrefix + id }
func bindingKey(chatID int64) string     { return bindingsPrefix + strconv.FormatInt(chatID, 10) }
func parkedTenantPrefix(t string) string { return parkedPrefix + t + "/" }

func portKey(nodeID string, port uint32) string {
	return fmt.Sprintf("%s%s/%d", portsPrefix, nodeID, port)
}

// parkedKey zero-pads the update id so that key order is update_id order
// (update ids are never negative).
func parkedKey(tenantID string, updateID int64) string {
	return fmt.Sprintf("%s%020d", parkedTenantPrefix(tenantID), updateID)
}

// tenantIDFor is the id of the tenant made for a chat: its exact decimal id.
func tenantIDFor(chatID int64) string { return strconv.FormatInt(chatID, 10) }

// parsePortKey splits ports/<node_id>/<port>.
func parsePortKey(key string) (nodeID string, port uint32, ok bool) {
	return parseNodePortKey(key, portsPrefix)
}

// parseParkedKey splits parked/<tenant_id>/<update_id>.
func parseParkedKey(key string) (tenantID string, ok bool) {
	rest, found := strings.CutPrefix(key, parkedPrefix)
	if !found {
		return "", false
	}
	tenantID, _, found = strings.Cut(rest, "/")
	return tenantID, found
}
