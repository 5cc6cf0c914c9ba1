package agent

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/profile"
)

// reconcile makes one pass for the worker's tenant toward want (nil: gone),
// reporting each move. It is idempotent: a pass over a converged tenant
// changes nothing in the engine.
//
// A move runs through here on both nodes: the source gets a stopped want
// (reconcileStopped) and serves the volume; the target gets a want with
// restore_from, copies the volume in (restore), then creates and starts
// the container as usual. The flip to the target's ordinary assignment of
// the same generation then finds the container running and adopts it.
func (w *worker) reconcile(ctx context.Context, want *zakiv1.Assignment) error {
	if want == nil {
		return w.removeAll(ctx)
	}
	if want.GetDiscard() {
		// Before anything that could create or start: a discard want may
		// carry other fields (stopped, a profile), and they mean nothing.
		return w.reconcileDiscard(ctx, want)
	}
	if err := w.a.checkAssignment(want); err != nil {
		return w.fail(ctx, want, err)
	}
	p, err := w.a.lookup(want.GetProfile())
	if err != nil {
		return w.fail(ctx, want, err)
	}
	env, files, err := p.Render(tenantVars(want, p, w.a.cfg.BotAPIURL, w.a.cfg.ModelKeys))
	if err != nil {
		return w.fail(ctx, want, err)
	}
	found, err := w.a.eng.observe(ctx, w.tenant)
	if err != nil {
		return w.fail(ctx, want, err)
	}
	if want.GetStopped() {
		return w.reconcileStopped(ctx, want, p, found)
	}
	pl := decide(want.GetGeneration(), found)
	if want.GetRestoreFrom() != nil && !hasGeneration(found, want.GetGeneration()) {
		// A container of this generation exists only once a copy was
		// loaded completely; without one, the copy starts over.
		if err := w.restore(ctx, want, p, found); err != nil {
			return w.fail(ctx, want, err)
		}
		pl = plan{Create: true}
	}
	if pl.Create || pl.Start != "" || len(pl.Remove) > 0 {
		w.report(want, zakiv1.PlacementState_PLACEMENT_STATE_STARTING, "", pl.Adopt+pl.Start)
	}
	for _, id := range pl.Remove {
		w.log.Info("removing container", "generation", want.GetGeneration())
		if err := w.a.eng.remove(ctx, id); err != nil {
			return w.fail(ctx, want, err)
		}
	}
	id := pl.Adopt + pl.Start
	switch {
	case pl.Create:
		id, err = w.createAndStart(ctx, want, p, env, files)
	case pl.Start != "":
		err = w.startExisting(ctx, id, p, files)
	}
	if err != nil {
		return w.fail(ctx, want, err)
	}
	if err := w.a.eng.waitReady(ctx, id, w.tenant, p, w.a.hc); err != nil {
		return w.fail(ctx, want, err)
	}
	w.report(want, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING, "", id)
	return nil
}

// createAndStart makes the tenant's network, volume and container, copies
// its rendered files into the volume, and starts it. A live container of the
// same generation found under the name is adopted instead.
func (w *worker) createAndStart(ctx context.Context, want *zakiv1.Assignment, p profile.Profile,
	env []string, files []profile.RenderedFile) (string, error) {
	e := w.a.eng
	if err := e.checkImage(ctx, p.Image); err != nil {
		return "", err
	}
	if err := e.ensureNetwork(ctx, w.tenant); err != nil {
		return "", err
	}
	if err := e.ensureVolume(ctx, w.tenant); err != nil {
		return "", err
	}
	s := buildSpec(w.a.cfg.NodeID, w.a.cfg.Address, want, p, env)
	id, adopted, err := e.create(ctx, s)
	if err != nil || adopted {
		return id, err
	}
	w.log.Info("created container", "generation", want.GetGeneration())
	return id, w.startExisting(ctx, id, p, files)
}

// startExisting renders the files into the volume and starts the container:
// files are rewritten before every start so config follows the assignment.
func (w *worker) startExisting(ctx context.Context, id string, p profile.Profile, files []profile.RenderedFile) error {
	if err := w.a.eng.copyFiles(ctx, id, p, files); err != nil {
		return err
	}
	w.a.m.starts.Inc()
	return w.a.eng.start(ctx, id)
}

// removeAll removes every container and the network of an unwanted tenant.
// The volume is kept on purpose: a tenant merely gone from the desired set
// keeps its data; only a discard want (reconcileDiscard), sent once the
// tenant runs elsewhere with its data, removes it.
func (w *worker) removeAll(ctx context.Context) error {
	found, err := w.a.eng.observe(ctx, w.tenant)
	if err != nil {
		return err
	}
	for _, c := range found {
		w.log.Info("removing unwanted container", "generation", c.Generation)
		if err := w.a.eng.remove(ctx, c.ID); err != nil {
			return err
		}
	}
	if err := w.a.eng.removeLoaders(ctx, w.tenant); err != nil {
		return err
	}
	if err := w.a.eng.removeNetwork(ctx, w.tenant); err != nil {
		return err
	}
	w.a.board.drop(w.tenant)
	return nil
}

// fail reports the attempt FAILED with err as the reason, unless the attempt
// was cut short, and returns err.
func (w *worker) fail(ctx context.Context, want *zakiv1.Assignment, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	w.a.m.startFailures.Inc()
	w.report(want, zakiv1.PlacementState_PLACEMENT_STATE_FAILED, err.Error(), "")
	return fmt.Errorf("tenant %s generation %d: %w", w.tenant, want.GetGeneration(), err)
}

// report publishes a status unless it is the one already published.
func (w *worker) report(want *zakiv1.Assignment, state zakiv1.PlacementState, reason, id string) {
	st := &zakiv1.ContainerStatus{
		TenantId:    w.tenant,
		Generation:  want.GetGeneration(),
		State:       state,
		Reason:      reason,
		ContainerId: id,
	}
	if proto.Equal(st, w.a.board.get(w.tenant)) {
		return
	}
	if state == zakiv1.PlacementState_PLACEMENT_STATE_FAILED {
		w.log.Warn("container failed", "generation", want.GetGeneration(), "error", reason)
	} else {
		w.log.Info("container "+stateName(state), "generation", want.GetGeneration())
	}
	w.a.board.set(st)
}
