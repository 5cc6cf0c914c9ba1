package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/docker/go-connections/nat"
	"github.com/zaki-platform/zaki/profile"
)

// readyPoll is the pause between readiness probes.
const readyPoll = 200 * time.Millisecond

// waitReady polls the container's readiness path on its address in the
// tenant's network until it answers 200, ctx ends, or the profile's ready
// timeout passes. The agent runs on the host, which reaches bridge addresses
// directly, so nothing is published for the probe.
func (e *engine) waitReady(ctx context.Context, id, tenant string, p profile.Profile, hc *http.Client) error {
	timeout := p.ReadyTimeout.D()
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	last := "no answer yet"
	for {
		reason, ok := e.probe(ctx, id, tenant, p, hc)
		switch {
		case ok:
			return nil
		case errors.Is(reason, errExited):
			// Waiting out the timeout for a container that has exited
			// only delays bringing it back.
			return reason
		}
		last = reason.Error()
		select {
		case <-tick.C:
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("not ready after %s: %s", timeout, last)
			}
			return ctx.Err()
		}
	}
}

// errExited marks a probe of a container that has stopped and is not being
// restarted by the engine.
var errExited = errors.New("container exited")

// probe makes one readiness check; reason says why it failed.
func (e *engine) probe(ctx context.Context, id, tenant string, p profile.Profile,
	hc *http.Client) (reason error, ok bool) {
	c, err := e.d.ContainerInspect(ctx, id)
	if err != nil {
		return fmt.Errorf("inspect: %w", err), false
	}
	switch {
	case c.State == nil:
		return errors.New("container has no state yet"), false
	case c.State.Restarting:
		return fmt.Errorf("container is restarting (last exit code %d)", c.State.ExitCode), false
	case !c.State.Running:
		return fmt.Errorf("%w with code %d", errExited, c.State.ExitCode), false
	}
	var ip string
	if c.NetworkSettings != nil {
		if ep := c.NetworkSettings.Networks[ObjectName(e.node, tenant)]; ep != nil {
			ip = ep.IPAddress
		}
	}
	if ip == "" {
		return errors.New("container has no address on its network yet"), false
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(p.ReadyPort))
	// An agent in a container (deploy/compose) is on none of the tenants'
	// networks, but reaches the port published on the node's address, as
	// the router does; use it when readiness answers on the webhook port.
	if p.ReadyPort == p.WebhookPort && c.NetworkSettings != nil {
		if b := c.NetworkSettings.Ports[nat.Port(strconv.Itoa(p.WebhookPort)+"/tcp")]; len(b) > 0 {
			addr = net.JoinHostPort(b[0].HostIP, b[0].HostPort)
		}
	}
	url := "http://" + addr + p.ReadyPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err, false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", p.ReadyPath, err), false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %d", p.ReadyPath, resp.StatusCode), false
	}
	return nil, true
}
