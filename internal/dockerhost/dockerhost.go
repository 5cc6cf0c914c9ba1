// Package dockerhost holds what Zaki's tools need of the local Docker host
// beyond the agent's own calls: reaching the engine with a helpful error,
// checking a locally built image, the host's address on Docker's bridge, and
// removing a node's objects.
package dockerhost

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"github.com/zaki-platform/zaki/agent"
)

// Client connects to the local engine, with a message that says what to do
// when there is none.
func Client(ctx context.Context) (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		_, err = cli.Ping(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("no Docker Engine reachable (%v): zaki dev runs each person's assistant in a container; start Docker or set DOCKER_HOST", err)
	}
	return cli, nil
}

// RequireImage fails with the command that builds a missing image, since
// nothing can be pulled for a locally built profile.
func RequireImage(ctx context.Context, cli *client.Client, ref string) error {
	_, err := cli.ImageInspect(ctx, ref)
	if errdefs.IsNotFound(err) {
		return fmt.Errorf("image %s is not built on this machine: run `make images` (or `make run`, which builds it)", ref)
	}
	if err != nil {
		return fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return nil
}

// BridgeHostIP is the host's address on Docker's default bridge: what
// "host-gateway" resolves to inside containers, so the Bot API front listens
// there for containers on any tenant network to reach it.
func BridgeHostIP(ctx context.Context, cli *client.Client) (string, error) {
	if ifc, err := net.InterfaceByName("docker0"); err == nil {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return ipn.IP.String(), nil
			}
		}
	}
	nw, err := cli.NetworkInspect(ctx, "bridge", network.InspectOptions{})
	if err != nil {
		return "", fmt.Errorf("find Docker's bridge address: %w", err)
	}
	for _, c := range nw.IPAM.Config {
		if c.Gateway != "" {
			return c.Gateway, nil
		}
	}
	return "", errors.New("find Docker's bridge address: no docker0 interface and no gateway on the bridge network")
}

// Removed counts what RemoveNodeObjects removed.
type Removed struct{ Containers, Networks, Volumes int }

// RemoveNodeObjects removes every container, network and volume the agent of
// node made. Only a dev cluster with a temporary state, and tests, do this: a
// real agent never deletes a tenant's volume.
func RemoveNodeObjects(ctx context.Context, cli *client.Client, node string) (Removed, error) {
	f := filters.NewArgs(filters.Arg("label", agent.LabelManagedBy+"=zaki"), filters.Arg("label", agent.LabelNode+"="+node))
	var n Removed
	var errs []error
	count := func(counter *int, err error) {
		if err == nil {
			*counter++
		}
		errs = append(errs, err)
	}
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	errs = append(errs, err)
	for _, c := range cs {
		count(&n.Containers, cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}))
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	errs = append(errs, err)
	for _, nw := range ns {
		count(&n.Networks, cli.NetworkRemove(ctx, nw.ID))
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	errs = append(errs, err)
	for _, v := range vs.Volumes {
		count(&n.Volumes, cli.VolumeRemove(ctx, v.Name, true))
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("remove node %s's containers, networks and volumes: %w", node, err)
	}
	return n, nil
}
