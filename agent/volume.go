package agent

import (
	"context"
	"fmt"
	"io"
	"path"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/zaki-platform/zaki/profile"
)

// The engine's side of moves: a source keeps a tenant's container stopped
// and reads its volume through it; a target wipes the tenant's volume and
// loads the copy through a loader container that never starts.

// volumeExists reports whether the tenant's volume is on the node.
func (e *engine) volumeExists(ctx context.Context, tenant string) (bool, error) {
	name := ObjectName(e.node, tenant)
	_, err := e.d.VolumeInspect(ctx, name)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect volume %s: %w", name, err)
	}
}

// wipeVolume removes the tenant's volume and makes it again, empty. Only a
// move's target calls it, before loading the copy: whatever an earlier stay
// of the tenant left here is older than the source's data.
func (e *engine) wipeVolume(ctx context.Context, tenant string) error {
	name := ObjectName(e.node, tenant)
	if err := e.d.VolumeRemove(ctx, name, false); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return e.ensureVolume(ctx, tenant)
}

// removeVolume removes the tenant's volume, and says whether there was one.
// Only a discard calls it, once every container of the tenant is gone: the
// tenant runs on another node with its data. Force makes the engine drop
// the volume even when its driver cannot clean up (a volume still mounted
// by a container is refused all the same); since force also hides "no such
// volume", the volume is looked up first to tell what was done.
func (e *engine) removeVolume(ctx context.Context, tenant string) (bool, error) {
	ok, err := e.volumeExists(ctx, tenant)
	if err != nil || !ok {
		return false, err
	}
	name := ObjectName(e.node, tenant)
	if err := e.d.VolumeRemove(ctx, name, true); err != nil && !cerrdefs.IsNotFound(err) {
		return false, fmt.Errorf("remove volume %s: %w", name, err)
	}
	return true, nil
}

// stop stops a container and keeps it: its restart policy (unless-stopped)
// then keeps it down, across engine restarts too.
func (e *engine) stop(ctx context.Context, id string) error {
	grace := int(stopGrace / time.Second)
	if err := e.d.ContainerStop(ctx, id, container.StopOptions{Timeout: &grace}); err != nil {
		return fmt.Errorf("stop container %.12s: %w", id, err)
	}
	return nil
}

// readVolume is the volume mounted at volumePath in a stopped container, as
// a tar whose top entry is the base name of volumePath.
func (e *engine) readVolume(ctx context.Context, id, volumePath string) (io.ReadCloser, error) {
	rc, _, err := e.d.CopyFromContainer(ctx, id, volumePath)
	if err != nil {
		return nil, fmt.Errorf("read %s from container %.12s: %w", volumePath, id, err)
	}
	return rc, nil
}

// createHolder makes the tenant's container for a stopped assignment when
// it has none: created, never started, only so the engine can read the
// volume through it. A live holder found under the name is stopped.
func (e *engine) createHolder(ctx context.Context, s spec) (string, error) {
	id, adopted, err := e.create(ctx, s)
	if err != nil {
		return "", err
	}
	if adopted {
		return id, e.stop(ctx, id)
	}
	return id, nil
}

// load extracts tarball (a volume as readVolume gives it) into the tenant's
// volume through a loader container, removed again afterwards. The tar's
// headers keep their owners and modes: CopyToContainer without CopyUIDGID
// applies them as they are.
func (e *engine) load(ctx context.Context, tenant string, p profile.Profile, tarball io.Reader) error {
	if err := e.removeLoaders(ctx, tenant); err != nil {
		return err
	}
	s := loaderSpec(e.node, tenant, p)
	resp, err := e.d.ContainerCreate(ctx, s.Config, s.Host, s.Net, nil, s.Name)
	if err != nil {
		return fmt.Errorf("create loader container %s: %w", s.Name, err)
	}
	copyErr := e.d.CopyToContainer(ctx, resp.ID, path.Dir(path.Clean(p.VolumePath)), tarball,
		container.CopyToContainerOptions{})
	// Removed even when ctx ended meanwhile; a loader left behind anyway
	// (the agent died) is removed by the next attempt, by removeAll, or by
	// the next desired set.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
	defer cancel()
	rmErr := e.d.ContainerRemove(rctx, resp.ID, container.RemoveOptions{Force: true})
	switch {
	case copyErr != nil:
		return fmt.Errorf("load into volume %s: %w", ObjectName(e.node, tenant), copyErr)
	case rmErr != nil && !cerrdefs.IsNotFound(rmErr):
		return fmt.Errorf("remove loader container %s: %w", s.Name, rmErr)
	}
	return nil
}

// removeLoaders removes every loader container of the tenant on the node.
func (e *engine) removeLoaders(ctx context.Context, tenant string) error {
	f := filters.NewArgs(
		filters.Arg("label", LabelManagedBy+"="+managedByZaki),
		filters.Arg("label", LabelNode+"="+e.node),
		filters.Arg("label", LabelLoader+"="+tenant),
	)
	cs, err := e.d.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("list loader containers of tenant %s: %w", tenant, err)
	}
	for _, c := range cs {
		err := e.d.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("remove loader container %.12s: %w", c.ID, err)
		}
	}
	return nil
}
