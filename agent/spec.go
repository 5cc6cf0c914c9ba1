package agent

import (
	"fmt"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/profile"
)

// spec is everything ContainerCreate needs for one tenant's container.
type spec struct {
	Name   string
	Config *container.Config
	Host   *container.HostConfig
	Net    *network.NetworkingConfig
}

// tenantVars are the values a profile's templates see for one assignment.
// The pseudo token is "<bot id>:<per-tenant secret>" because clients read the
// bot id from the token's first half.
func tenantVars(a *zakiv1.Assignment, p profile.Profile, botAPIURL string, keys ModelKeys) profile.Vars {
	return profile.Vars{
		TenantID:        a.GetTenantId(),
		OwnerUserID:     a.GetOwnerUserId(),
		ChatIDs:         a.GetChatIds(),
		Tier:            a.GetTier(),
		WebhookSecret:   a.GetSecrets().GetWebhookSecret(),
		BotToken:        fmt.Sprintf("%d:%s", a.GetBotId(), a.GetSecrets().GetBotApiSecret()),
		APIRoot:         botAPIURL,
		GatewayToken:    a.GetSecrets().GetGatewayToken(),
		MoonshotAPIKey:  keys.Moonshot,
		AnthropicAPIKey: keys.Anthropic,
		// A quarter of the limit is left for everything outside the heap.
		HeapMiB: p.MemoryBytes * 3 / 4 >> 20,
	}
}

// buildSpec is the container for assignment a on node, made from profile p
// with the rendered environment env. It is a pure function so every
// hardening field can be tested without an engine.
func buildSpec(node, address string, a *zakiv1.Assignment, p profile.Profile, env []string) spec {
	name := ObjectName(node, a.GetTenantId())
	port := nat.Port(strconv.Itoa(p.WebhookPort) + "/tcp")
	labels := objectLabels(node, a.GetTenantId())
	labels[LabelGeneration] = strconv.FormatUint(a.GetGeneration(), 10)
	labels[LabelProfile] = p.Name

	pids := p.PidsLimit
	cfg := &container.Config{
		Image:        p.Image,
		Cmd:          p.Cmd,
		User:         p.User,
		Env:          env,
		Labels:       labels,
		ExposedPorts: nat.PortSet{port: struct{}{}},
	}
	host := &container.HostConfig{
		// Published on the node's private address only, never 0.0.0.0.
		PortBindings: nat.PortMap{port: {{
			HostIP:   address,
			HostPort: strconv.FormatUint(uint64(a.GetHostPort()), 10),
		}}},
		// Its own bridge: no other tenant's container is on it.
		NetworkMode: container.NetworkMode(name),
		Mounts: []mount.Mount{{
			Type:   mount.TypeVolume,
			Source: name,
			Target: p.VolumePath,
		}},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		CapDrop:       []string{"ALL"},
		SecurityOpt:   []string{"no-new-privileges"},
		Privileged:    false,
		ExtraHosts:    []string{"host.docker.internal:host-gateway"},
		// A chatty tenant must not fill the host's disk with logs.
		LogConfig: container.LogConfig{
			Type:   "json-file",
			Config: map[string]string{"max-size": "10m", "max-file": "3"},
		},
		Resources: container.Resources{
			Memory:     p.MemoryBytes,
			MemorySwap: p.MemoryBytes, // equal to Memory: no swap
			NanoCPUs:   p.NanoCPUs,
			PidsLimit:  &pids,
		},
	}
	net := &network.NetworkingConfig{
		EndpointsConfig: map[string]*network.EndpointSettings{name: {}},
	}
	return spec{Name: name, Config: cfg, Host: host, Net: net}
}
