package images_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
	"github.com/hashicorp/go-hclog"

	"github.com/zaki-platform/zaki/internal/testutil"
	"github.com/zaki-platform/zaki/internal/tgstandin"
	"github.com/zaki-platform/zaki/profile"
)

// TestEchoContainerContract runs the echo image the way the agent will
// (hardened, as 1000:1000, a fresh named volume, env from the echo profile)
// against the Telegram stand-in, and checks the contract end to end: secret
// check, reply with the exact chat id, durable update ids across a new
// container on the same volume.
func TestEchoContainerContract(t *testing.T) {
	image := testutil.EchoImage(t)
	cli := testutil.RequireDocker(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("zaki-test-echo-%d", time.Now().UnixNano())

	gw := bridgeGateway(t, cli)
	tg := tgstandin.New(hclog.NewNullLogger(), 7000000001)
	apiRoot, err := tg.Start(gw + ":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })

	p, _ := profile.Lookup("echo")
	env, _, err := p.Render(profile.Vars{
		TenantID: "t-echo", WebhookSecret: "SECRETsecret", BotToken: tg.Token(), APIRoot: apiRoot,
	})
	if err != nil {
		t.Fatal(err)
	}
	volume := prefix + "-data"
	t.Cleanup(func() { _ = cli.VolumeRemove(context.Background(), volume, true) })

	const update = `{"update_id":9007199254740993,"message":{"message_id":1,"chat":{"id":-1004611686018427387,"type":"supergroup"},"text":"hi there"}}`
	url := runEcho(t, cli, p, image, prefix+"-a", volume, env)
	if code := postUpdate(t, url, "wrong", update); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", code)
	}
	if code := postUpdate(t, url, "SECRETsecret", update); code != http.StatusOK {
		t.Fatalf("update: %d", code)
	}
	waitFor(t, func() bool { return len(tg.Calls()) == 1 })
	if c := tg.Calls()[0]; c.Method != "sendMessage" || c.ChatID != -1004611686018427387 || c.Text != "echo: hi there" {
		t.Fatalf("reply = %+v", c)
	}

	// A new container on the same volume still knows the update.
	if err := cli.ContainerRemove(ctx, prefix+"-a", container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	url = runEcho(t, cli, p, image, prefix+"-b", volume, env)
	if code := postUpdate(t, url, "SECRETsecret", update); code != http.StatusOK {
		t.Fatalf("repeat: %d", code)
	}
	resp, err := http.Get(url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats struct{ Received, Duplicates int }
	json.NewDecoder(resp.Body).Decode(&stats)
	if stats.Duplicates != 1 || stats.Received != 0 || len(tg.Calls()) != 1 {
		t.Fatalf("after restart: stats %+v, %d replies", stats, len(tg.Calls()))
	}
}

// runEcho starts one hardened echo container and waits for /readyz.
func runEcho(t *testing.T, cli *client.Client, p profile.Profile, image, name, volume string, env []string) string {
	t.Helper()
	ctx := context.Background()
	port := nat.Port(fmt.Sprintf("%d/tcp", p.WebhookPort))
	noNewPrivs := []string{"no-new-privileges:true"}
	_, err := cli.ContainerCreate(ctx,
		&container.Config{Image: image, User: p.User, Env: env, ExposedPorts: nat.PortSet{port: {}},
			Labels: map[string]string{"zaki.test": name}},
		&container.HostConfig{
			Binds:        []string{volume + ":" + p.VolumePath},
			PortBindings: nat.PortMap{port: {{HostIP: "127.0.0.1"}}},
			CapDrop:      []string{"ALL"},
			SecurityOpt:  noNewPrivs,
			Resources:    container.Resources{Memory: p.MemoryBytes, NanoCPUs: p.NanoCPUs, PidsLimit: &p.PidsLimit},
		}, &network.NetworkingConfig{}, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cli.ContainerRemove(context.Background(), name, container.RemoveOptions{Force: true})
	})
	if err := cli.ContainerStart(ctx, name, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	// The engine picks the host port, so parallel tests never collide.
	info, err := cli.ContainerInspect(ctx, name)
	if err != nil || len(info.NetworkSettings.Ports[port]) == 0 {
		t.Fatalf("inspect %s: %v", name, err)
	}
	url := "http://127.0.0.1:" + info.NetworkSettings.Ports[port][0].HostPort
	waitFor(t, func() bool {
		resp, err := http.Get(url + p.ReadyPath)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return url
}

func bridgeGateway(t *testing.T, cli *client.Client) string {
	t.Helper()
	n, err := cli.NetworkInspect(context.Background(), "bridge", network.InspectOptions{})
	if err != nil || len(n.IPAM.Config) == 0 {
		t.Fatalf("bridge network: %v", err)
	}
	if gw := n.IPAM.Config[0].Gateway; gw != "" {
		return gw
	}
	// The default bridge often reports only its subnet; its gateway is the
	// subnet's first address.
	prefix, err := netip.ParsePrefix(n.IPAM.Config[0].Subnet)
	if err != nil {
		t.Fatalf("bridge subnet: %v", err)
	}
	return prefix.Masked().Addr().Next().String()
}

func postUpdate(t *testing.T, url, secret, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/telegram-webhook", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond until it holds or 30s pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
