package agent

import (
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"
)

func TestBuildSpecHardening(t *testing.T) {
	p := testProfile(18789)
	a := testAssignment("-1001234567890", 7, 19042)
	env, _, err := p.Render(tenantVars(a, p, "http://host.docker.internal:7480", ModelKeys{}))
	if err != nil {
		t.Fatal(err)
	}
	s := buildSpec("n1", "10.0.0.5", a, p, env)
	h := s.Host

	checks := []struct {
		name string
		ok   bool
	}{
		{"name is prefixed so a leading '-' stays valid", s.Name == "zaki-n1--1001234567890"},
		{"image from the profile", s.Config.Image == p.Image},
		{"user from the profile", s.Config.User == "1000:1000"},
		{"all capabilities dropped", slices.Equal(h.CapDrop, []string{"ALL"}) && len(h.CapAdd) == 0},
		{"no new privileges", slices.Equal(h.SecurityOpt, []string{"no-new-privileges"})},
		{"not privileged", !h.Privileged},
		{"pids limit", h.PidsLimit != nil && *h.PidsLimit == 128},
		{"memory limit", h.Memory == 256<<20},
		{"no swap beyond memory", h.MemorySwap == h.Memory},
		{"cpu limit", h.NanoCPUs == 500_000_000},
		{"own network", string(h.NetworkMode) == s.Name && len(s.Net.EndpointsConfig) == 1 && s.Net.EndpointsConfig[s.Name] != nil},
		{"not host network or pid or ipc", !h.NetworkMode.IsHost() && !h.PidMode.IsHost() && !h.IpcMode.IsHost()},
		{"no binds (no Docker socket)", len(h.Binds) == 0},
		{"restart unless-stopped", h.RestartPolicy.Name == container.RestartPolicyUnlessStopped},
		{"host gateway alias", slices.Equal(h.ExtraHosts, []string{"host.docker.internal:host-gateway"})},
		{"publish-all off", !h.PublishAllPorts},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("spec fails %q: %+v", c.name, h)
			}
		})
	}

	t.Run("port bound to the private address only", func(t *testing.T) {
		port := nat.Port("8787/tcp")
		if _, ok := s.Config.ExposedPorts[port]; !ok {
			t.Errorf("8787/tcp not exposed: %v", s.Config.ExposedPorts)
		}
		want := []nat.PortBinding{{HostIP: "10.0.0.5", HostPort: "19042"}}
		if len(h.PortBindings) != 1 || !slices.Equal(h.PortBindings[port], want) {
			t.Errorf("port bindings = %v, want only %v", h.PortBindings, want)
		}
	})
	t.Run("one named volume at the profile's path", func(t *testing.T) {
		want := []mount.Mount{{Type: mount.TypeVolume, Source: s.Name, Target: "/data"}}
		if !slices.EqualFunc(h.Mounts, want, func(a, b mount.Mount) bool {
			return a.Type == b.Type && a.Source == b.Source && a.Target == b.Target && !a.ReadOnly
		}) {
			t.Errorf("mounts = %+v, want %+v", h.Mounts, want)
		}
	})
	t.Run("labels", func(t *testing.T) {
		want := map[string]string{LabelManagedBy: "zaki", LabelNode: "n1", LabelTenant: "-1001234567890",
			LabelGeneration: "7", LabelProfile: "test"}
		for k, v := range want {
			if s.Config.Labels[k] != v {
				t.Errorf("label %s = %q, want %q", k, s.Config.Labels[k], v)
			}
		}
		if len(s.Config.Labels) != len(want) {
			t.Errorf("labels = %v: nothing else (and never a secret) belongs there", s.Config.Labels)
		}
	})
	t.Run("env carries the pseudo token and secrets", func(t *testing.T) {
		wantToken := "BOT_TOKEN=123456789:" + a.Secrets.BotApiSecret
		if !slices.Contains(s.Config.Env, wantToken) {
			t.Errorf("env lacks the pseudo token")
		}
		if !slices.Contains(s.Config.Env, "WEBHOOK_SECRET="+a.Secrets.WebhookSecret) {
			t.Errorf("env lacks the webhook secret")
		}
		if !slices.Contains(s.Config.Env, "API_ROOT=http://host.docker.internal:7480") {
			t.Errorf("env lacks the API root: %v", strings.Join(envNames(s.Config.Env), ","))
		}
	})
}

func envNames(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		out = append(out, k)
	}
	return out
}

func TestTenantVars(t *testing.T) {
	p := testProfile(1)
	a := testAssignment("42", 1, 19000)
	v := tenantVars(a, p, "http://x:1", ModelKeys{})
	if v.HeapMiB != 192 {
		t.Errorf("HeapMiB = %d, want 3/4 of 256", v.HeapMiB)
	}
	if v.BotToken != "123456789:"+a.Secrets.BotApiSecret {
		t.Error("BotToken is not <bot id>:<per-tenant secret>")
	}
	if v.OwnerUserID != 4_503_599_627_370_497 || v.ChatIDs[0] != 4_503_599_627_370_497 {
		t.Errorf("large ids changed: %d %v", v.OwnerUserID, v.ChatIDs)
	}
	if v.TenantID != "42" || v.Tier != "free" || v.APIRoot != "http://x:1" || v.WebhookSecret != a.Secrets.WebhookSecret {
		t.Errorf("vars = tenant %q tier %q api %q", v.TenantID, v.Tier, v.APIRoot)
	}
}
