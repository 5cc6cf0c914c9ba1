package agent

import (
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/profile"
)

// holderSpec is the container of a stopped assignment whose tenant has none
// on the node: the tenant's own name and labels (so it is the one container
// of the tenant), but no secrets, ports or network, and no restart policy.
// It only lets the engine read the volume; it is never started.
func holderSpec(node string, a *zakiv1.Assignment, p profile.Profile) spec {
	labels := objectLabels(node, a.GetTenantId())
	labels[LabelGeneration] = strconv.FormatUint(a.GetGeneration(), 10)
	labels[LabelProfile] = p.Name
	return inertSpec(ObjectName(node, a.GetTenantId()), labels, node, a.GetTenantId(), p)
}

// loaderName is the name of a tenant's loader container.
func loaderName(node, tenant string) string { return ObjectName(node, tenant) + "-loader" }

// loaderSpec is the container a move's target loads a tenant's volume
// through. It carries LabelLoader instead of LabelTenant, so nothing that
// looks for the tenant's container finds it, and it is never started.
func loaderSpec(node, tenant string, p profile.Profile) spec {
	labels := map[string]string{LabelManagedBy: managedByZaki, LabelNode: node, LabelLoader: tenant}
	return inertSpec(loaderName(node, tenant), labels, node, tenant, p)
}

// inertSpec is a container that only mounts the tenant's volume at the
// profile's path: hardened like a tenant's, in case anyone starts it.
func inertSpec(name string, labels map[string]string, node, tenant string, p profile.Profile) spec {
	pids := p.PidsLimit
	return spec{
		Name:   name,
		Config: &container.Config{Image: p.Image, Cmd: p.Cmd, User: p.User, Labels: labels},
		Host: &container.HostConfig{
			NetworkMode: "none",
			Mounts: []mount.Mount{{
				Type:   mount.TypeVolume,
				Source: ObjectName(node, tenant),
				Target: p.VolumePath,
			}},
			CapDrop:     []string{"ALL"},
			SecurityOpt: []string{"no-new-privileges"},
			Resources:   container.Resources{Memory: p.MemoryBytes, MemorySwap: p.MemoryBytes, PidsLimit: &pids},
		},
	}
}
