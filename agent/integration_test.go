package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/testutil"
	"github.com/zaki-platform/zaki/profile"
)

// dockerNode is a unique node id whose every container, network and volume
// is removed when the test ends.
func dockerNode(t *testing.T, cli *client.Client) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	node := "t-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		f := filters.NewArgs(filters.Arg("label", LabelNode+"="+node))
		cs, _ := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
		for _, c := range cs {
			_ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
		}
		ns, _ := cli.NetworkList(ctx, network.ListOptions{Filters: f})
		for _, n := range ns {
			_ = cli.NetworkRemove(ctx, n.ID)
		}
		vs, _ := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
		for _, v := range vs.Volumes {
			_ = cli.VolumeRemove(ctx, v.Name, true)
		}
	})
	return node
}

// runAgent runs an agent on the real engine until the returned stop is called.
func runAgent(t *testing.T, cli *client.Client, node, cpAddr, image string) (*Agent, func()) {
	t.Helper()
	a, err := New(Config{NodeID: node, ControlPlane: cpAddr, Docker: cli, PortMin: 1024, PortMax: 65535,
		BotAPIURL: "http://host.docker.internal:1", ResyncPeriod: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a.lookup = func(string) (profile.Profile, error) { return echoProfile(t, image), nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return a, stop
}

// echoProfile is the built-in echo profile with its state at a path the
// image does not have, so the container can only start if the agent made the
// fresh volume's root its user's, and with a rendered file to copy in.
func echoProfile(t *testing.T, image string) profile.Profile {
	t.Helper()
	p, err := profile.Lookup("echo")
	if err != nil {
		t.Fatal(err)
	}
	p.Image = image
	p.VolumePath = "/tenant-state"
	env := map[string]string{"ZAKI_ECHO_DATA": p.VolumePath}
	for k, v := range p.Env {
		env[k] = v
	}
	p.Env = env
	p.Files = []profile.File{{Path: "conf/tenant.json", Template: `{"tenant": {{json .TenantID}}}`}}
	return p
}

func echoAssignment(t *testing.T, tenant string, gen uint64) *zakiv1.Assignment {
	as := testAssignment(tenant, gen, uint32(testutil.FreePort(t)))
	as.Profile = "echo"
	return as
}

func TestAgentOnDocker(t *testing.T) {
	cli := testutil.RequireDocker(t)
	image := testutil.EchoImage(t)
	node := dockerNode(t, cli)
	cp, addr := startCP(t)
	ctx := context.Background()
	t1, t2, t3 := echoAssignment(t, "101", 1), echoAssignment(t, "-102", 1), echoAssignment(t, "103", 1)

	// Agent 1 runs two tenants.
	_, stop1 := runAgent(t, cli, node, addr, image)
	s1 := nextSession(t, cp)
	s1.welcome(t, t1, t2)
	eventually(t, 60*time.Second, "two echo containers RUNNING", allRunning(s1, "101", "-102"))
	ids := map[string]string{}
	for _, as := range []*zakiv1.Assignment{t1, t2} {
		ids[as.TenantId] = s1.latest()[as.TenantId].GetContainerId()
		checkHardened(t, cli, node, as)
	}

	// Agent 1 dies; tenant 103's container is left half made, as by a crash
	// between create and start.
	stop1()
	for tenant, id := range ids {
		if c, err := cli.ContainerInspect(ctx, id); err != nil || !c.State.Running {
			t.Fatalf("tenant %s's container stopped with the agent: %v", tenant, err)
		}
	}
	halfMade := createOnly(t, cli, node, image, t3)

	// Agent 2 adopts the two, replaces the half-made one, duplicates nothing.
	a2, _ := runAgent(t, cli, node, addr, image)
	s2 := nextSession(t, cp)
	if n := len(s2.register.GetRunning()); n != 3 {
		t.Errorf("agent 2 registered %d containers, want 3: %v", n, s2.register.GetRunning())
	}
	s2.welcome(t, t1, t2, t3)
	eventually(t, 60*time.Second, "three RUNNING", allRunning(s2, "101", "-102", "103"))
	for tenant, id := range ids {
		if got := s2.latest()[tenant].GetContainerId(); got != id {
			t.Errorf("tenant %s: container %.12s replaced by %.12s, want adopted", tenant, id, got)
		}
	}
	if got := s2.latest()["103"].GetContainerId(); got == halfMade {
		t.Error("the half-made container was started instead of replaced")
	}
	if v := metricValue(a2.m.starts); v != 1 {
		t.Errorf("agent 2 started %v containers, want 1 (only the replacement)", v)
	}
	countContainers(t, cli, node, 3)

	// Tenant -102 is unassigned: its container and network go, its volume stays.
	s2.send(t, &zakiv1.SessionResponse{Msg: &zakiv1.SessionResponse_Change{Change: &zakiv1.AssignmentChange{
		Change: &zakiv1.AssignmentChange_RemoveTenantId{RemoveTenantId: "-102"}}}})
	name := ObjectName(node, "-102")
	eventually(t, 30*time.Second, "tenant -102's container removed", func() bool {
		_, err := cli.ContainerInspect(ctx, name)
		return client.IsErrNotFound(err)
	})
	eventually(t, 10*time.Second, "tenant -102's network removed", func() bool {
		_, err := cli.NetworkInspect(ctx, name, network.InspectOptions{})
		return client.IsErrNotFound(err)
	})
	if _, err := cli.VolumeInspect(ctx, name); err != nil {
		t.Errorf("tenant -102's volume is gone: %v", err)
	}
	countContainers(t, cli, node, 2)
}

// TestAgentBringsBackDeadContainers: a tenant's container killed or removed
// behind the agent's back is noticed on the next resync and brought back.
func TestAgentBringsBackDeadContainers(t *testing.T) {
	cli := testutil.RequireDocker(t)
	image := testutil.EchoImage(t)
	node := dockerNode(t, cli)
	cp, addr := startCP(t)
	ctx := context.Background()
	t1 := echoAssignment(t, "201", 1)
	runAgent(t, cli, node, addr, image)
	s := nextSession(t, cp)
	s.welcome(t, t1)
	eventually(t, 60*time.Second, "RUNNING", allRunning(s, "201"))
	id := s.latest()["201"].GetContainerId()

	start := time.Now()
	if err := cli.ContainerKill(ctx, id, "KILL"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the killed container running again", func() bool {
		c, err := cli.ContainerInspect(ctx, id)
		return err == nil && c.State.Running && s.latest()["201"].GetState() == zakiv1.PlacementState_PLACEMENT_STATE_RUNNING
	})

	t.Logf("killed container back after %s", time.Since(start))
	if err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "a new container for the removed one", func() bool {
		st := s.latest()["201"]
		return st.GetContainerId() != id && st.GetState() == zakiv1.PlacementState_PLACEMENT_STATE_RUNNING
	})
	t.Logf("removed container replaced after %s", time.Since(start))
	countContainers(t, cli, node, 1)
}

// checkHardened inspects a tenant's container on the real engine.
func checkHardened(t *testing.T, cli *client.Client, node string, as *zakiv1.Assignment) {
	t.Helper()
	name := ObjectName(node, as.TenantId)
	c, err := cli.ContainerInspect(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	h := c.HostConfig
	port := fmt.Sprint(as.HostPort)
	bindings := h.PortBindings["8787/tcp"]
	switch {
	case len(h.CapDrop) != 1 || h.CapDrop[0] != "ALL":
		t.Errorf("%s: CapDrop = %v", name, h.CapDrop)
	case len(h.SecurityOpt) != 1 || h.SecurityOpt[0] != "no-new-privileges":
		t.Errorf("%s: SecurityOpt = %v", name, h.SecurityOpt)
	case h.PidsLimit == nil || *h.PidsLimit != 64 || h.Memory != 64<<20 || h.NanoCPUs != 250_000_000:
		t.Errorf("%s: limits pids %v memory %d cpus %d", name, h.PidsLimit, h.Memory, h.NanoCPUs)
	case h.Privileged || h.NetworkMode.IsHost() || len(h.Binds) != 0:
		t.Errorf("%s: privileged %v network %s binds %v", name, h.Privileged, h.NetworkMode, h.Binds)
	case len(bindings) != 1 || bindings[0].HostIP != "127.0.0.1" || bindings[0].HostPort != port:
		t.Errorf("%s: port bindings %v, want only 127.0.0.1:%s", name, h.PortBindings, port)
	case string(h.NetworkMode) != name || len(c.NetworkSettings.Networks) != 1 || c.NetworkSettings.Networks[name] == nil:
		t.Errorf("%s: networks %v, want only its own", name, c.NetworkSettings.Networks)
	case c.Config.User != "1000:1000":
		t.Errorf("%s: user %q", name, c.Config.User)
	}
	// The published port answers on the private address.
	resp, err := http.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		t.Fatalf("%s: host port: %v", name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s: /healthz on the host port answered %d", name, resp.StatusCode)
	}
}

// createOnly makes a tenant's container the way the agent would and leaves
// it in state "created".
func createOnly(t *testing.T, cli *client.Client, node, image string, as *zakiv1.Assignment) string {
	t.Helper()
	ctx := context.Background()
	p := echoProfile(t, image)
	env, _, err := p.Render(tenantVars(as, p, "http://host.docker.internal:1", ModelKeys{}))
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{d: cli, node: node}
	if err := e.ensureNetwork(ctx, as.TenantId); err != nil {
		t.Fatal(err)
	}
	if err := e.ensureVolume(ctx, as.TenantId); err != nil {
		t.Fatal(err)
	}
	s := buildSpec(node, "127.0.0.1", as, p, env)
	resp, err := cli.ContainerCreate(ctx, s.Config, s.Host, s.Net, nil, s.Name)
	if err != nil {
		t.Fatal(err)
	}
	return resp.ID
}

func countContainers(t *testing.T, cli *client.Client, node string, want int) {
	t.Helper()
	cs, err := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: nodeFilter(node, "")})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != want {
		t.Errorf("node %s has %d containers, want %d", node, len(cs), want)
	}
	perTenant := map[string]int{}
	for _, c := range cs {
		if perTenant[c.Labels[LabelTenant]]++; perTenant[c.Labels[LabelTenant]] > 1 {
			t.Errorf("tenant %s has two containers", c.Labels[LabelTenant])
		}
	}
}
