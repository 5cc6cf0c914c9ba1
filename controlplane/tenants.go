package controlplane

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/secret"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// maxTxnAttempts bounds how often a write retries after losing a race.
const maxTxnAttempts = 8

// errRetry is returned by one attempt of a write that lost a race.
var errRetry = errors.New("lost a race, retry")

// SetBot records the bot this cluster serves. Idempotent; a different bot id
// than the one recorded fails with errPrecondition.
func (c *Controller) SetBot(ctx context.Context, botID int64) error {
	val := strconv.FormatInt(botID, 10)
	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(botIDKey), "=", 0)).
		Then(clientv3.OpPut(botIDKey, val)).
		Else(clientv3.OpGet(botIDKey)).Commit()
	if err != nil {
		return fmt.Errorf("set bot id %d: %w", botID, err)
	}
	if resp.Succeeded {
		c.log.Info("bot recorded", "bot_id", botID)
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 1 && string(kvs[0].Value) != val {
		return fmt.Errorf("%w: this cluster serves bot %s, not %d", errPrecondition, kvs[0].Value, botID)
	}
	return nil
}

// EnsureTenant returns the route of the tenant bound to req.ChatId, creating
// and scheduling it when req.Create is set; created says whether this call
// made it. Requests are expected to have passed validateEnsure.
func (c *Controller) EnsureTenant(ctx context.Context, req *zakiv1.EnsureTenantRequest,
) (*zakiv1.Route, bool, error) {
	for i := range maxTxnAttempts {
		route, created, err := c.ensureOnce(ctx, req, i == 0)
		if !errors.Is(err, errRetry) {
			return route, created, err
		}
	}
	return nil, false, fmt.Errorf("%w: ensure tenant for chat %d", errConflict, req.ChatId)
}

func (c *Controller) ensureOnce(ctx context.Context, req *zakiv1.EnsureTenantRequest, inline bool,
) (*zakiv1.Route, bool, error) {
	// TODO(#4): this reads the whole state per call; at scale, answer known
	// chats from a watched view.
	v, err := c.loadView(ctx)
	if err != nil {
		return nil, false, err
	}
	if id, ok := v.bindings[req.ChatId]; ok {
		return routeFor(v, id, v.chatIDs()[id]), false, nil
	}
	if !req.Create {
		return nil, false, fmt.Errorf("%w: chat %d has no tenant", errNotFound, req.ChatId)
	}
	c.schedMu.Lock()
	defer c.schedMu.Unlock()
	// Read again under the lock: another creation may have just committed.
	if v, err = c.loadView(ctx); err != nil {
		return nil, false, err
	}
	if id, ok := v.bindings[req.ChatId]; ok {
		return routeFor(v, id, v.chatIDs()[id]), false, nil
	}
	return c.create(ctx, v, req, inline)
}

// reasonAwaitLeader is why a tenant created on a replica that does not
// lead is PENDING; it is not a scheduling failure.
const reasonAwaitLeader = "awaiting_leader"

// create makes the tenant for req in one transaction: tenant, secrets and
// binding (each only if absent), and its placement, either SCHEDULED with a
// claimed port or PENDING with the reason it is not placed yet.
//
// Placing is the leader's. The leader places a new tenant inline (when
// inline is set), in this transaction, fenced, so that a router gets the
// route in one call. Any other replica, or the leader retrying after a
// failed attempt (which may have been its fence: deposed, not yet aware),
// creates it PENDING without a fence, and the leader, which watches for
// PENDING placements (watchPending), places it within a watch delay. A
// fenced inline attempt on a non-leader could only fail, and PENDING is what
// its fallback would write anyway.
func (c *Controller) create(ctx context.Context, v *view, req *zakiv1.EnsureTenantRequest, inline bool,
) (*zakiv1.Route, bool, error) {
	id := tenantIDFor(req.ChatId)
	if err := checkOwner(v, req); err != nil {
		return nil, false, err
	}
	if _, ok := v.tenants[id]; ok {
		return nil, false, fmt.Errorf("%w: tenant %s exists but chat %d is not bound to it",
			errPrecondition, id, req.ChatId)
	}
	now := timestamppb.New(c.now())
	t := &zakiv1.Tenant{Id: id, Kind: req.Kind, OwnerUserId: req.OwnerUserId,
		Profile: c.defaultProfile, Tier: defaultTier, CreatedAt: now}
	s := &zakiv1.TenantSecrets{WebhookSecret: secret.New(), BotApiSecret: secret.New(), GatewayToken: secret.New()}
	ch := choice{failure: reasonAwaitLeader, detail: "waiting for the leading control plane to place it"}
	if inline && c.rep.leading() {
		ch = schedule(v, c.sessions.connected(), t, c.fleet.policy)
	}
	p := placementFor(id, ch, 0, now)

	cmps := []clientv3.Cmp{absent(tenantKey(id)), absent(secretsKey(id)),
		absent(bindingKey(req.ChatId)), absent(placementKey(id))}
	ops := []clientv3.Op{putProto(tenantKey(id), t), putProto(secretsKey(id), s),
		clientv3.OpPut(bindingKey(req.ChatId), id), putProto(placementKey(id), p)}
	if req.Kind == zakiv1.TenantKind_TENANT_KIND_GROUP {
		cmps = append(cmps, present(bindingKey(req.OwnerUserId)))
	}
	if ch.failure == "" {
		claimCmps, claimOps := claimPort(ch.nodeID, ch.port, id)
		cmps, ops = c.fenced(append(cmps, claimCmps...)...), append(ops, claimOps...)
	}
	resp, err := c.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return nil, false, fmt.Errorf("create tenant %s: %w", id, err)
	}
	if !resp.Succeeded {
		return nil, false, errRetry
	}
	c.recordPlacement(t, p, ch, true)
	v.tenants[id], v.secrets[id], v.placements[id], v.bindings[req.ChatId] = t, s, p, id
	return routeFor(v, id, v.chatIDs()[id]), true, nil
}

// checkOwner enforces that a group belongs to someone who already has a
// tenant: a group nobody on the platform added stays unroutable.
func checkOwner(v *view, req *zakiv1.EnsureTenantRequest) error {
	if req.Kind != zakiv1.TenantKind_TENANT_KIND_GROUP {
		return nil
	}
	if _, ok := v.bindings[req.OwnerUserId]; !ok {
		return fmt.Errorf("%w: group %d was added by %d who has no tenant; it stays unroutable",
			errPrecondition, req.ChatId, req.OwnerUserId)
	}
	return nil
}

// recordPlacement logs and counts a placement decision.
func (c *Controller) recordPlacement(t *zakiv1.Tenant, p *zakiv1.Placement, ch choice, created bool) {
	if created {
		c.metrics.tenantsCreated.Inc()
		c.log.Info("tenant created", "tenant", t.Id)
	}
	if ch.failure != "" {
		if ch.failure != reasonAwaitLeader {
			c.metrics.schedulingFailures.WithLabelValues(ch.failure).Inc()
		}
		c.log.Info("tenant pending", "tenant", t.Id, "reason", ch.detail)
		return
	}
	c.metrics.placementsSched.Inc()
	c.log.Info("tenant scheduled", "tenant", t.Id, "node", ch.nodeID,
		"generation", p.Generation)
}

// BindChat binds chatID (a migrated supergroup) to an existing tenant.
// Binding a chat to the tenant it is already bound to is a no-op.
func (c *Controller) BindChat(ctx context.Context, chatID int64, tenantID string,
) (*zakiv1.Route, error) {
	resp, err := c.cli.Txn(ctx).
		If(present(tenantKey(tenantID)), absent(bindingKey(chatID))).
		Then(clientv3.OpPut(bindingKey(chatID), tenantID)).
		Else(clientv3.OpGet(tenantKey(tenantID)), clientv3.OpGet(bindingKey(chatID))).Commit()
	if err != nil {
		return nil, fmt.Errorf("bind chat %d to tenant %s: %w", chatID, tenantID, err)
	}
	if !resp.Succeeded {
		if len(resp.Responses[0].GetResponseRange().Kvs) == 0 {
			return nil, fmt.Errorf("%w: tenant %s", errNotFound, tenantID)
		}
		if kvs := resp.Responses[1].GetResponseRange().Kvs; string(kvs[0].Value) != tenantID {
			return nil, fmt.Errorf("%w: chat %d is bound to tenant %s", errExists, chatID, kvs[0].Value)
		}
	}
	v, err := c.loadView(ctx)
	if err != nil {
		return nil, err
	}
	return routeFor(v, tenantID, v.chatIDs()[tenantID]), nil
}

func absent(key string) clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
}

func present(key string) clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(key), ">", 0)
}

// putProto is a put of a marshalled message. Marshalling a gen message with
// no unknown types cannot fail, so an error here is a programming error.
// putIfUnchanged writes m at key only if key's mod revision is still modRev
// (0: the key must not exist); false means another write came first and the
// caller should read again.
func (c *Controller) putIfUnchanged(ctx context.Context, key string, modRev int64, m proto.Message) (bool, error) {
	txn, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
		Then(putProto(key, m)).Commit()
	if err != nil {
		return false, err
	}
	return txn.Succeeded, nil
}

func putProto(key string, m proto.Message) clientv3.Op {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("marshal %s: %v", key, err))
	}
	return clientv3.OpPut(key, string(b))
}
