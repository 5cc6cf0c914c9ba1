package agent

import (
	"context"
	"fmt"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/profile"
)

// stopPlan is what one pass does for a stopped assignment (a move's
// source), decided before any call to the engine.
type stopPlan struct {
	// Remove are the tenant's other containers; their volume stays.
	Remove []string
	// Keep is the container the volume is read through; "" when none is
	// usable and a holder must be made.
	Keep string
	// Stop says Keep may be running and must be stopped.
	Stop bool
}

// decideStopped keeps one container of the tenant, stopped, whatever its
// generation: the newest one that the engine can still read a volume
// through. Nothing here ever starts a container.
//
//	running/restarting/paused -> stop, keep
//	exited/created            -> keep as it is
//	dead/removing/other       -> remove (a holder is made instead)
func decideStopped(found []observed) stopPlan {
	var p stopPlan
	keep := -1
	for i, c := range found {
		if !readable(c.State) {
			continue
		}
		if keep < 0 || c.Generation > found[keep].Generation {
			keep = i
		}
	}
	for i, c := range found {
		if i != keep {
			p.Remove = append(p.Remove, c.ID)
		}
	}
	if keep >= 0 {
		p.Keep = found[keep].ID
		p.Stop = found[keep].State != "exited" && found[keep].State != "created"
	}
	return p
}

// readable reports whether a container in state s can be stopped (if need
// be) and its volume read through the engine.
func readable(s string) bool {
	switch s {
	case "running", "restarting", "paused", "exited", "created":
		return true
	}
	return false
}

// reconcileStopped makes one pass toward a stopped assignment: the tenant's
// container stopped but kept, with its volume, for the move's target to
// pull; then STOPPED is reported. A tenant with no container but a volume
// gets a holder container; one without a volume has nothing to move.
func (w *worker) reconcileStopped(ctx context.Context, want *zakiv1.Assignment, p profile.Profile,
	found []observed) error {
	e := w.a.eng
	pl := decideStopped(found)
	for _, id := range pl.Remove {
		w.log.Info("removing container", "generation", want.GetGeneration())
		if err := e.remove(ctx, id); err != nil {
			return w.fail(ctx, want, err)
		}
	}
	id := pl.Keep
	var err error
	switch {
	case pl.Stop:
		w.log.Info("stopping container for a move", "generation", want.GetGeneration(),
			"to_node", want.GetMoveToNodeId())
		err = e.stop(ctx, id)
	case id == "":
		id, err = w.makeHolder(ctx, want, p)
	}
	if err != nil {
		return w.fail(ctx, want, err)
	}
	w.report(want, zakiv1.PlacementState_PLACEMENT_STATE_STOPPED, "", id)
	return nil
}

// makeHolder makes a never-started container over the tenant's existing
// volume, so the volume can be served; a missing volume is an error, never
// an empty one made up.
func (w *worker) makeHolder(ctx context.Context, want *zakiv1.Assignment, p profile.Profile) (string, error) {
	e := w.a.eng
	ok, err := e.volumeExists(ctx, w.tenant)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("tenant %s has no container and no volume on node %s: there is no data "+
			"here to move; check which node holds it (docker volume ls --filter label=%s=%s)",
			w.tenant, w.a.cfg.NodeID, LabelTenant, w.tenant)
	}
	if err := e.checkImage(ctx, p.Image); err != nil {
		return "", err
	}
	w.log.Info("making a stopped container to read the volume through", "generation", want.GetGeneration())
	return e.createHolder(ctx, holderSpec(w.a.cfg.NodeID, want, p))
}
