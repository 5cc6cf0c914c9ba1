package agent

import (
	"context"
	"fmt"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// checkDiscard says why a discard want cannot be carried out, or nil. Only
// the tenant id and generation matter: the volume's name is built from the
// id, and the report names the generation.
func checkDiscard(want *zakiv1.Assignment) error {
	switch {
	case !tenantIDPattern.MatchString(want.GetTenantId()):
		return fmt.Errorf("tenant id %q is not usable in a volume name", want.GetTenantId())
	case want.GetGeneration() == 0:
		return fmt.Errorf("tenant %s: discard at generation 0", want.GetTenantId())
	}
	return nil
}

// reconcileDiscard removes every container of the tenant on this node (of
// any generation), its loaders, its network and its volume, then reports
// DISCARDED at want's generation, also when nothing was left. Each pass
// does the whole sequence, so it is idempotent and resumes after a failure
// anywhere; every step treats "already gone" as done.
func (w *worker) reconcileDiscard(ctx context.Context, want *zakiv1.Assignment) error {
	if err := checkDiscard(want); err != nil {
		return w.failDiscard(ctx, want, err)
	}
	e := w.a.eng
	found, err := e.observe(ctx, w.tenant)
	if err != nil {
		return w.failDiscard(ctx, want, err)
	}
	for _, c := range found {
		w.log.Info("removing a moved tenant's container", "generation", c.Generation)
		if err := e.remove(ctx, c.ID); err != nil {
			return w.failDiscard(ctx, want, err)
		}
	}
	if err := e.removeLoaders(ctx, w.tenant); err != nil {
		return w.failDiscard(ctx, want, err)
	}
	if err := e.removeNetwork(ctx, w.tenant); err != nil {
		return w.failDiscard(ctx, want, err)
	}
	// Last: the engine refuses to remove a volume a container still mounts.
	removed, err := e.removeVolume(ctx, w.tenant)
	if err != nil {
		return w.failDiscard(ctx, want, err)
	}
	prev := w.a.board.get(w.tenant)
	fresh := prev.GetState() != zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED ||
		prev.GetGeneration() != want.GetGeneration()
	if fresh || len(found) > 0 || removed {
		// Once per discard (and again after an agent restart), not on every
		// resync pass over a tenant already gone.
		w.a.m.discards.WithLabelValues("ok").Inc()
		w.log.Info("discarded tenant's leftovers", "generation", want.GetGeneration(),
			"volume", ObjectName(w.a.cfg.NodeID, w.tenant), "containers", len(found), "volume_removed", removed)
	}
	w.report(want, zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED, "", "")
	return nil
}

// failDiscard reports a discard attempt FAILED, unless it was cut short;
// the worker retries with backoff. err names the step (every engine error
// does: "remove volume ...", "remove network ...").
func (w *worker) failDiscard(ctx context.Context, want *zakiv1.Assignment, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	w.a.m.discards.WithLabelValues("failed").Inc()
	err = fmt.Errorf("discard the leftovers of tenant %s on node %s: %w (retrying)",
		w.tenant, w.a.cfg.NodeID, err)
	w.report(want, zakiv1.PlacementState_PLACEMENT_STATE_FAILED, err.Error(), "")
	return err
}
