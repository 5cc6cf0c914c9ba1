package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/zaki-platform/zaki/internal/testutil"
)

// fleet is one local fleet that deploy/compose/fleet.sh started for this
// test process, under a compose project and networks of its own, so it
// never touches a fleet someone else runs on the machine.
type fleet struct {
	t      *testing.T
	docker *client.Client
	name   string // ZAKI_FLEET: compose project zaki-<name>, nodes <name>-agentN
	net    string // ZAKI_FLEET_NET: the first two octets of its networks
	run    string // ZAKI_FLEET_RUN: its secrets and state
	script string
	env    []string
	image  string // the zaki image, for agents the test starts itself

	webhookURL string
	standinURL string
	secret     string // the router's webhook secret

	led     *ledger
	sampler *sampler
	// scope is the ledger position where the running scenario's updates
	// start: it waits for and checks those only, so one scenario's loss is
	// reported once, by it, and by the final check over the whole run.
	scope int
}

// requireFleet skips unless the suite was asked for, and then fails when
// what it needs is missing.
func requireFleet(t *testing.T) *client.Client {
	t.Helper()
	if os.Getenv("ZAKI_FLEET_TEST") != "1" {
		t.Skip("skipping the fleet suite: it starts a fleet of containers; run `make test-fleet` " +
			"(or set ZAKI_FLEET_TEST=1 after `make images`)")
	}
	for _, tool := range []string{"docker", "docker-compose"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("ZAKI_FLEET_TEST=1 and %s is missing: %v", tool, err)
		}
	}
	cli, err := testutil.DockerClient(t)
	if err != nil {
		t.Fatalf("ZAKI_FLEET_TEST=1 and the Docker Engine is not reachable: %v", err)
	}
	return cli
}

// startFleet brings a fleet up and registers its removal, which also runs
// when the test fails or up does.
func startFleet(t *testing.T) *fleet {
	t.Helper()
	docker := requireFleet(t)
	f := &fleet{t: t, docker: docker, name: "ft" + strings.ToLower(rand.Text()[:6]), run: t.TempDir(),
		image: envOr("ZAKI_IMAGE", "zaki:dev"), led: &ledger{}}
	f.script = filepath.Join(testutil.RepoRoot(t), "deploy", "compose", "fleet.sh")
	f.net = freeNet(t, docker)
	webhookPort, standinPort := testutil.FreePort(t), testutil.FreePort(t)
	f.webhookURL = fmt.Sprintf("http://127.0.0.1:%d/telegram/webhook", webhookPort)
	f.standinURL = fmt.Sprintf("http://127.0.0.1:%d", standinPort)
	f.env = append(os.Environ(), "ZAKI_FLEET="+f.name, "ZAKI_FLEET_NET="+f.net, "ZAKI_FLEET_RUN="+f.run,
		"ZAKI_FLEET_WEBHOOK_PORT="+strconv.Itoa(webhookPort),
		"ZAKI_FLEET_TELEGRAM_PORT="+strconv.Itoa(standinPort),
		"ZAKI_FLEET_WAIT=120", "ZAKI_FLEET_MAX_TENANTS="+strconv.Itoa(maxTenants))
	t.Cleanup(f.down)

	t.Logf("starting fleet %s on %s.0.0/22 with %s", f.name, f.net, f.script)
	out, err := f.sh(5*time.Minute, "up")
	t.Logf("fleet.sh up:\n%s", out)
	if err != nil {
		t.Fatalf("fleet.sh up: %v", err)
	}
	f.secret = readEnvFile(t, filepath.Join(f.run, "router.env"))["ZAKI_WEBHOOK_SECRET"]
	if f.secret == "" {
		t.Fatal("no ZAKI_WEBHOOK_SECRET in the fleet's router.env")
	}
	f.sampler = startSampler(f)
	t.Cleanup(f.sampler.stop)
	return f
}

// down removes the fleet; when the test failed, it first logs what the
// fleet's parts said.
func (f *fleet) down() {
	if f.t.Failed() {
		if out, err := f.sh(time.Minute, "compose", "logs", "--no-color", "--tail", "60"); err == nil {
			f.t.Logf("the fleet's last log lines:\n%s", out)
		}
		if out, err := f.sh(time.Minute, "ctl", "tenants"); err == nil {
			f.t.Logf("zaki ctl tenants:\n%s", out)
		}
	}
	out, err := f.sh(3*time.Minute, "down")
	if err != nil {
		f.t.Errorf("fleet.sh down: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	left, err := f.docker.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+f.project()))})
	if err == nil && len(left) > 0 {
		f.t.Errorf("fleet.sh down left %d of the fleet's containers", len(left))
	}
	if tenants := f.containers(); len(tenants) > 0 {
		f.t.Errorf("fleet.sh down left %d tenant containers", len(tenants))
	}
}

func (f *fleet) project() string         { return "zaki-" + f.name }
func (f *fleet) gateway() string         { return f.net + ".0.1" }
func (f *fleet) node(n int) string       { return fmt.Sprintf("%s-agent%d", f.name, n) }
func (f *fleet) network(n string) string { return f.project() + "_" + n }

// sh runs fleet.sh for this fleet and returns its standard output; an error
// carries its standard error.
func (f *fleet) sh(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.script, args...)
	cmd.Env = f.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("fleet.sh %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// service returns the id of a compose service's container.
func (f *fleet) service(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := f.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", "com.docker.compose.project="+f.project()),
		filters.Arg("label", "com.docker.compose.service="+name))})
	if err != nil || len(list) != 1 {
		t.Fatalf("the fleet's %s container: %d found, %v", name, len(list), err)
	}
	return list[0].ID
}

// serviceOf is the compose service of one of the fleet's nodes.
func (f *fleet) serviceOf(node string) string { return strings.TrimPrefix(node, f.name+"-") }

// freeNet picks ZAKI_FLEET_NET: two octets 10.N whose three /24s overlap no
// Docker network and no address of this host.
func freeNet(t *testing.T, docker *client.Client) string {
	t.Helper()
	var used []*net.IPNet
	nets, err := docker.NetworkList(t.Context(), network.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if _, ipn, err := net.ParseCIDR(c.Subnet); err == nil {
				used = append(used, ipn)
			}
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				used = append(used, ipn)
			}
		}
	}
	start := mrand.IntN(50)
	for i := range 50 {
		candidate := fmt.Sprintf("10.%d", 200+(start+i)%50)
		_, mine, _ := net.ParseCIDR(candidate + ".0.0/22")
		clash := false
		for _, u := range used {
			clash = clash || mine.Contains(u.IP) || u.Contains(mine.IP)
		}
		if !clash {
			return candidate
		}
	}
	t.Fatal("no free 10.N.0.0/22 among 10.200-10.249 for the test fleet")
	return ""
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// nodeRE matches the node ids of this fleet's agents, the test's own included.
func (f *fleet) nodeRE() *regexp.Regexp {
	return regexp.MustCompile("^" + regexp.QuoteMeta(f.name) + `-agent[0-9]+$`)
}

// waitUntil polls cond every half second until it returns nil, failing the
// test after timeout with cond's last error.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	testutil.WaitUntil(t, timeout, 500*time.Millisecond, what, cond)
}
