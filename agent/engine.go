package agent

import (
	"bytes"
	"context"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/zaki-platform/zaki/profile"
)

// stopGrace is how long a container gets to exit after SIGTERM before it is
// killed, when it is replaced or removed.
const stopGrace = 10 * time.Second

// engine is the node's Docker Engine, seen through the node's names and
// labels. Each method is one idempotent step.
type engine struct {
	d    Docker
	node string
}

// list returns the containers of one tenant, or of the whole node when
// tenant is "", running or not.
func (e *engine) list(ctx context.Context, tenant string) ([]container.Summary, error) {
	cs, err := e.d.ContainerList(ctx, container.ListOptions{All: true, Filters: nodeFilter(e.node, tenant)})
	if err != nil {
		return nil, fmt.Errorf("list containers of node %s: %w", e.node, err)
	}
	return cs, nil
}

// observe lists a tenant's containers for decide.
func (e *engine) observe(ctx context.Context, tenant string) ([]observed, error) {
	if tenant == "" {
		return nil, fmt.Errorf("observe: empty tenant id would select the whole node")
	}
	cs, err := e.list(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]observed, 0, len(cs))
	for _, c := range cs {
		out = append(out, observed{ID: c.ID, Generation: generationOf(c.Labels), State: string(c.State)})
	}
	return out, nil
}

// checkImage fails with an operator-readable reason when the image is not on
// the node: nothing can be pulled here, images are built locally.
func (e *engine) checkImage(ctx context.Context, image string) error {
	_, err := e.d.ImageInspect(ctx, image)
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("image %q is not on node %s: build it with \"make images\"", image, e.node)
	}
	if err != nil {
		return fmt.Errorf("inspect image %q: %w", image, err)
	}
	return nil
}

// ensureNetwork makes the tenant's own bridge network unless it exists.
//
// TODO(#3): Docker's default address pools hold about 30 bridge networks;
// nodes with more tenants need default-address-pools set in daemon.json (or
// the agent handing out small subnets itself).
func (e *engine) ensureNetwork(ctx context.Context, tenant string) error {
	name := ObjectName(e.node, tenant)
	if _, err := e.d.NetworkInspect(ctx, name, network.InspectOptions{}); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect network %s: %w", name, err)
	}
	_, err := e.d.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: objectLabels(e.node, tenant)})
	if err != nil && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("create network %s: %w", name, err)
	}
	return nil
}

// ensureVolume makes the tenant's named volume; creating an existing one is
// a no-op in the engine, which keeps its data.
func (e *engine) ensureVolume(ctx context.Context, tenant string) error {
	name := ObjectName(e.node, tenant)
	opts := volume.CreateOptions{Name: name, Driver: "local", Labels: objectLabels(e.node, tenant)}
	_, err := e.d.VolumeCreate(ctx, opts)
	if err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	return nil
}

// create makes the container from s. When the name is taken, the holder is
// adopted if it is this very generation and live, and removed otherwise;
// a name conflict is never a failure. adopted tells which happened.
func (e *engine) create(ctx context.Context, s spec) (id string, adopted bool, err error) {
	for attempt := 0; attempt < 2; attempt++ {
		resp, err := e.d.ContainerCreate(ctx, s.Config, s.Host, s.Net, nil, s.Name)
		if err == nil {
			return resp.ID, false, nil
		}
		if !cerrdefs.IsConflict(err) {
			return "", false, fmt.Errorf("create container %s: %w", s.Name, err)
		}
		holder, ierr := e.d.ContainerInspect(ctx, s.Name)
		if cerrdefs.IsNotFound(ierr) {
			continue // gone meanwhile
		}
		if ierr != nil {
			return "", false, fmt.Errorf("inspect container %s after a name conflict: %w", s.Name, ierr)
		}
		if sameGeneration(holder.Config, s.Config) && holder.State != nil && isLive(holder.State.Status) {
			return holder.ID, true, nil
		}
		if err := e.remove(ctx, holder.ID); err != nil {
			return "", false, err
		}
	}
	return "", false, fmt.Errorf("create container %s: the name stays taken", s.Name)
}

// sameGeneration reports whether a found container's config carries the
// node, tenant and generation labels of want.
func sameGeneration(found, want *container.Config) bool {
	if found == nil {
		return false
	}
	for _, k := range []string{LabelManagedBy, LabelNode, LabelTenant, LabelGeneration} {
		if found.Labels[k] != want.Labels[k] {
			return false
		}
	}
	return true
}

// copyFiles writes the rendered files into the container's volume; the
// container may be created or stopped.
func (e *engine) copyFiles(ctx context.Context, id string, p profile.Profile, files []profile.RenderedFile) error {
	dst, tarball, err := volumeTar(p.VolumePath, p.User, files, time.Now())
	if err != nil {
		return err
	}
	err = e.d.CopyToContainer(ctx, id, dst, bytes.NewReader(tarball), container.CopyToContainerOptions{})
	if err != nil {
		return fmt.Errorf("copy config files into %s: %w", p.VolumePath, err)
	}
	return nil
}

// start starts a created or stopped container.
func (e *engine) start(ctx context.Context, id string) error {
	if err := e.d.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container %.12s: %w", id, err)
	}
	return nil
}

// remove stops a container (with a grace period) and removes it. Its volume
// is deliberately kept: reconciliation never deletes a tenant's data.
func (e *engine) remove(ctx context.Context, id string) error {
	grace := int(stopGrace / time.Second)
	err := e.d.ContainerStop(ctx, id, container.StopOptions{Timeout: &grace})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %.12s: %w", id, err)
	}
	// RemoveVolumes stays false: the tenant's named volume is its data.
	err = e.d.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %.12s: %w", id, err)
	}
	return nil
}

// removeNetwork removes the tenant's network; its volume stays.
func (e *engine) removeNetwork(ctx context.Context, tenant string) error {
	name := ObjectName(e.node, tenant)
	if err := e.d.NetworkRemove(ctx, name); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove network %s: %w", name, err)
	}
	return nil
}
