package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/hashicorp/go-hclog"

	"github.com/zaki-platform/zaki/internal/dockerhost"
	"github.com/zaki-platform/zaki/internal/testutil"
	"github.com/zaki-platform/zaki/internal/tgstandin"
)

// cluster is a control plane, a router and an agent, each its own process,
// with a Telegram stand-in in the test process.
type cluster struct {
	t          *testing.T
	docker     *client.Client
	logs       *logs
	node       string
	portMin    int
	standin    *tgstandin.Server
	secret     string
	webhookURL string
	botAPIURL  string // the router's Bot API front as containers reach it
	grpcAddr   string
	cp, router *proc
	agent      *proc
	// trust: the control plane's data dir (admin credentials in admin/),
	// the join tokens made for the router and the agent, and their state dirs.
	cpDataDir, agentState, routerState string
	tokens                             []string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	docker := testutil.RequireDocker(t)
	testutil.EchoImage(t)
	c := &cluster{t: t, docker: docker, logs: &logs{}, node: "e2e-" + strings.ToLower(rand.Text()[:8])}
	t.Cleanup(c.removeDockerObjects)

	st := tgstandin.New(hclog.NewNullLogger(), botID)
	stURL, err := st.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c.standin, c.secret = st, rand.Text()

	port := func() string { return strconv.Itoa(testutil.FreePort(t)) }
	c.grpcAddr = "127.0.0.1:" + port()
	c.cpDataDir, c.agentState, c.routerState = t.TempDir(), t.TempDir(), t.TempDir()
	c.cp = &proc{name: "controlplane", opsAddr: "127.0.0.1:" + port(), args: []string{"controlplane",
		"--data-dir", c.cpDataDir, "--log-level", "debug",
		"--etcd-client-url", "http://127.0.0.1:" + port(), "--etcd-peer-url", "http://127.0.0.1:" + port(),
		"--grpc-listen", c.grpcAddr, "--default-profile", "echo", "--heartbeat-period", "1s"}}
	c.cp.args = append(c.cp.args, "--http-listen", c.cp.opsAddr)
	c.cp.start(t, c.logs)

	frontPort := port()
	webhook := "127.0.0.1:" + port()
	c.webhookURL = "http://" + webhook + "/telegram/webhook"
	// The router joins with its token in the environment, the agent with
	// the documented flag; neither token may appear in a log.
	c.router = &proc{name: "router", opsAddr: "127.0.0.1:" + port(),
		env: []string{"ZAKI_BOT_TOKEN=" + st.Token(), "ZAKI_WEBHOOK_SECRET=" + c.secret,
			"ZAKI_JOIN_TOKEN=" + c.joinToken("router")},
		args: []string{"router", "--log-level", "debug", "--listen", webhook,
			"--front-listen", net.JoinHostPort(bridgeIP(t, docker), frontPort),
			"--join", c.grpcAddr, "--state-dir", c.routerState, "--telegram-api-url", stURL}}
	c.router.args = append(c.router.args, "--http-listen", c.router.opsAddr)
	c.router.start(t, c.logs)

	c.botAPIURL = "http://host.docker.internal:" + frontPort
	c.portMin = 20000 + int(time.Now().UnixNano()%120)*100
	c.agent = c.agentProc("agent", c.node, c.agentState, c.portMin)
	c.agent.start(t, c.logs)
	return c
}

// agentProc is an agent of node, not started yet, joining with a new token:
// state in stateDir, tenant ports portMin to portMin+99, and its own
// transfer and ops ports, so several agents can share this host.
func (c *cluster) agentProc(name, node, stateDir string, portMin int) *proc {
	port := func() string { return strconv.Itoa(testutil.FreePort(c.t)) }
	p := &proc{name: name, opsAddr: "127.0.0.1:" + port(), args: []string{"agent", "--log-level", "debug",
		"--node-id", node, "--join", c.grpcAddr, "--token", c.joinToken("agent"),
		"--state-dir", stateDir, "--address", "127.0.0.1",
		"--port-min", strconv.Itoa(portMin), "--port-max", strconv.Itoa(portMin + 99),
		// Port 0: the agent advertises the port it bound, and no other
		// process can take it between picking and binding.
		"--transfer-listen", "127.0.0.1:0", "--bot-api-url", c.botAPIURL}}
	p.args = append(p.args, "--http-listen", p.opsAddr)
	return p
}

// restartAgent starts a new agent process with the same flags but no
// --join and --token: it uses the credentials its first start kept.
func (c *cluster) restartAgent() {
	var args []string
	for i := 0; i < len(c.agent.args); i++ {
		if a := c.agent.args[i]; a == "--join" || a == "--token" {
			i++
			continue
		}
		args = append(args, c.agent.args[i])
	}
	c.agent = &proc{name: "agent", opsAddr: c.agent.opsAddr, args: args}
	c.agent.start(c.t, c.logs)
}

// joinToken makes a join token for role with `zaki ctl token create`.
func (c *cluster) joinToken(role string) string {
	c.t.Helper()
	var resp struct {
		Token string `json:"token"`
	}
	out := c.ctl("token", "create", "--role", role, "--ttl", "10m", "-o", "json")
	if err := json.Unmarshal([]byte(out), &resp); err != nil || !strings.HasPrefix(resp.Token, "ZKT1.") {
		c.t.Fatalf("zaki ctl token create: %v\n%s", err, out)
	}
	c.tokens = append(c.tokens, resp.Token)
	return resp.Token
}

// post sends one update to the router's webhook with the given secret.
func (c *cluster) post(secret string, body []byte) int {
	c.t.Helper()
	code, err := c.postErr(secret, body)
	if err != nil {
		c.t.Fatal(err)
	}
	return code
}

// postErr is post for goroutines other than the test's: it reports a
// failed request instead of ending the test.
func (c *cluster) postErr(secret string, body []byte) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, c.webhookURL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// send posts an update with the right secret and requires a 200.
func (c *cluster) send(id int64, body []byte) {
	c.t.Helper()
	if code := c.post(c.secret, body); code != http.StatusOK {
		c.t.Fatalf("update %d: webhook answered %d, want 200", id, code)
	}
}

// containers lists the node's tenant containers by tenant id.
func (c *cluster) containers() map[string][]container.Summary {
	c.t.Helper()
	return c.containersOn(c.node)
}

// containersOn lists the tenant containers of node by tenant id.
func (c *cluster) containersOn(node string) map[string][]container.Summary {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := c.docker.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "zaki.node="+node))})
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string][]container.Summary{}
	for _, s := range list {
		out[s.Labels["zaki.tenant"]] = append(out[s.Labels["zaki.tenant"]], s)
	}
	return out
}

// received reads the update ids a tenant's echo container durably
// accepted, from its volume, in the order it accepted them.
func (c *cluster) received(containerID string) ([]int64, error) {
	return testutil.EchoReceived(c.docker, containerID)
}

// ctl runs `zaki ctl` against the cluster and returns its output.
func (c *cluster) ctl(args ...string) string {
	c.t.Helper()
	out, err := c.ctlErr(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// ctlErr runs `zaki ctl` with the admin credentials and returns its output,
// stdout and stderr together; an error when it exits non-zero.
func (c *cluster) ctlErr(args ...string) (string, error) {
	args = append([]string{"ctl", "--controlplane", c.grpcAddr,
		"--credentials", filepath.Join(c.cpDataDir, "admin")}, args...)
	out, err := exec.Command(zakiBinary(c.t), args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("zaki %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// metric reads one counter from a role's /metrics.
func metric(t *testing.T, opsAddr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + opsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		total += v
	}
	return total
}

func (c *cluster) removeDockerObjects() { c.removeNodeObjects(c.node) }

// removeNodeObjects removes every container, network and volume the agent
// of node made.
func (c *cluster) removeNodeObjects(node string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := dockerhost.RemoveNodeObjects(ctx, c.docker, node); err != nil {
		c.t.Logf("cleanup: %v", err)
	}
}

// bridgeIP is the host's address on Docker's default bridge, where
// host.docker.internal points inside containers.
func bridgeIP(t *testing.T, docker *client.Client) string {
	t.Helper()
	ip, err := dockerhost.BridgeHostIP(t.Context(), docker)
	if err != nil {
		t.Fatal(err)
	}
	return ip
}
