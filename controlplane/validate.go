package controlplane

import (
	"fmt"
	"regexp"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// Request checks: pure functions, run by the gRPC adapters before any
// domain call. Each error wraps errInvalid.

var nodeIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func validateRegister(r *zakiv1.Register) error {
	if r.ProtocolVersion != protocolVersion {
		return fmt.Errorf("%w: agent speaks protocol %d, this control plane speaks %d",
			errInvalid, r.ProtocolVersion, protocolVersion)
	}
	n := r.Node
	switch {
	case n == nil:
		return fmt.Errorf("%w: Register without a node", errInvalid)
	case len(n.Id) > 63 || !nodeIDPattern.MatchString(n.Id):
		return fmt.Errorf("%w: node id %q must match [a-z0-9][a-z0-9-]* (at most 63)", errInvalid, n.Id)
	case n.Address == "":
		return fmt.Errorf("%w: node %s has no address", errInvalid, n.Id)
	case n.PortMin == 0 || n.PortMin > n.PortMax || n.PortMax > 65535:
		return fmt.Errorf("%w: node %s port range %d-%d", errInvalid, n.Id, n.PortMin, n.PortMax)
	case n.MemoryBytes <= 0:
		return fmt.Errorf("%w: node %s offers no memory", errInvalid, n.Id)
	}
	return nil
}

func validateSetBot(r *zakiv1.SetBotRequest) error {
	if r.BotId <= 0 {
		return fmt.Errorf("%w: bot_id %d must be positive", errInvalid, r.BotId)
	}
	return nil
}

func validateEnsure(r *zakiv1.EnsureTenantRequest) error {
	if r.ChatId == 0 {
		return fmt.Errorf("%w: chat_id is required", errInvalid)
	}
	if !r.Create {
		return nil
	}
	switch r.Kind {
	case zakiv1.TenantKind_TENANT_KIND_USER:
		if r.ChatId < 0 || r.OwnerUserId != r.ChatId {
			return fmt.Errorf("%w: a user tenant's chat %d must be positive and its owner (%d) itself",
				errInvalid, r.ChatId, r.OwnerUserId)
		}
	case zakiv1.TenantKind_TENANT_KIND_GROUP:
		if r.ChatId > 0 || r.OwnerUserId <= 0 {
			return fmt.Errorf("%w: a group tenant's chat %d must be negative and its owner (%d) a user",
				errInvalid, r.ChatId, r.OwnerUserId)
		}
	default:
		return fmt.Errorf("%w: kind %s", errInvalid, r.Kind)
	}
	return nil
}

func validateBind(r *zakiv1.BindChatRequest) error {
	if r.ChatId == 0 || r.TenantId == "" {
		return fmt.Errorf("%w: chat_id and tenant_id are required", errInvalid)
	}
	return nil
}

func validatePark(r *zakiv1.ParkUpdateRequest) error {
	u := r.Update
	switch {
	case u == nil || u.TenantId == "":
		return fmt.Errorf("%w: update and its tenant_id are required", errInvalid)
	case u.UpdateId < 0:
		return fmt.Errorf("%w: update_id %d is negative", errInvalid, u.UpdateId)
	case len(u.Body) == 0:
		return fmt.Errorf("%w: update %d has no body", errInvalid, u.UpdateId)
	}
	return nil
}

func validateAck(r *zakiv1.AckParkedRequest) error {
	if r.TenantId == "" {
		return fmt.Errorf("%w: tenant_id is required", errInvalid)
	}
	return nil
}
