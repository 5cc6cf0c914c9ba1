package agent

import (
	"context"
	"io"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker is the part of the Docker Engine API the agent uses, and nothing
// more, so unit tests can fake it. *client.Client satisfies it.
type Docker interface {
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig,
		networkingConfig *network.NetworkingConfig, platform *ocispec.Platform,
		containerName string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerStop(ctx context.Context, containerID string, options container.StopOptions) error
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	CopyToContainer(ctx context.Context, containerID, dstPath string, content io.Reader,
		options container.CopyToContainerOptions) error
	CopyFromContainer(ctx context.Context, containerID, srcPath string) (io.ReadCloser, container.PathStat, error)

	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
	NetworkInspect(ctx context.Context, networkID string, options network.InspectOptions) (network.Inspect, error)
	NetworkRemove(ctx context.Context, networkID string) error

	VolumeCreate(ctx context.Context, options volume.CreateOptions) (volume.Volume, error)
	VolumeInspect(ctx context.Context, volumeID string) (volume.Volume, error)
	VolumeRemove(ctx context.Context, volumeID string, force bool) error
	ImageInspect(ctx context.Context, imageID string,
		inspectOpts ...client.ImageInspectOption) (image.InspectResponse, error)
}

var _ Docker = (*client.Client)(nil)

// Labels every object the agent makes carries. managed-by and node together
// select what this agent owns; nothing without them is ever touched.
const (
	LabelManagedBy  = "zaki.managed-by"
	LabelNode       = "zaki.node"
	LabelTenant     = "zaki.tenant"
	LabelGeneration = "zaki.generation"
	LabelProfile    = "zaki.profile"
	// LabelLoader marks the short-lived container a move's target loads a
	// tenant's volume through. It is not LabelTenant on purpose: nothing
	// that looks for a tenant's container may ever mistake a loader for one.
	LabelLoader = "zaki.loader"

	managedByZaki = "zaki"
)

// ObjectName is the name of a tenant's container, network and volume on a
// node. Tenant ids of groups start with '-', which Docker names may not; the
// prefix keeps the name valid and the node id keeps two agents sharing one
// engine (tests, dev) apart.
func ObjectName(node, tenant string) string {
	return "zaki-" + node + "-" + tenant
}

// objectLabels are the labels of a tenant's network and volume.
func objectLabels(node, tenant string) map[string]string {
	return map[string]string{LabelManagedBy: managedByZaki, LabelNode: node, LabelTenant: tenant}
}

// nodeFilter selects what this node's agent owns; with a tenant, only that
// tenant's objects.
func nodeFilter(node, tenant string) filters.Args {
	f := filters.NewArgs(
		filters.Arg("label", LabelManagedBy+"="+managedByZaki),
		filters.Arg("label", LabelNode+"="+node),
	)
	if tenant != "" {
		f.Add("label", LabelTenant+"="+tenant)
	}
	return f
}

// generationOf reads a container's generation label; 0 if missing or bad.
func generationOf(labels map[string]string) uint64 {
	g, err := strconv.ParseUint(labels[LabelGeneration], 10, 64)
	if err != nil {
		return 0
	}
	return g
}
