package fleet

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
)

// joins: a fourth host joins with a good token and becomes a node; hosts
// with a wrong or an expired token are refused with an error that says so,
// never echo the token, and become no node.
func (f *fleet) joins(t *testing.T) {
	t.Run("good token", func(t *testing.T) {
		node := f.node(4)
		f.startAgent(t, 4, f.token(t, "--ttl", "10m"))
		f.waitNode(t, node, nodeActive, 90*time.Second)
		// Leave the fleet as it was: the later scenarios expect three nodes.
		f.removeAgent(t, 4)
		if out, err := f.sh(time.Minute, "ctl", "nodes", "rm", node); err != nil {
			t.Errorf("zaki ctl nodes rm %s: %v\n%s", node, err, out)
		}
		f.checkNoNode(t, node)
	})
	t.Run("wrong token", func(t *testing.T) {
		good := f.token(t, "--ttl", "10m")
		cut := strings.LastIndex(good, ".") + 1
		wrong := good[:cut] + strings.Repeat("x", len(good)-cut)
		f.checkRefused(t, 5, wrong, "unknown or its secret is wrong")
	})
	t.Run("expired token", func(t *testing.T) {
		const ttl = time.Second
		token := f.token(t, "--ttl", ttl.String())
		time.Sleep(2 * ttl) // the control plane's clock is this host's
		f.checkRefused(t, 6, token, "expired")
	})
}

// checkRefused starts agent n with token and requires it to stop with an
// error that contains why, without the token's secret, and no node n.
func (f *fleet) checkRefused(t *testing.T, n int, token, why string) {
	t.Helper()
	id := f.startAgent(t, n, token)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	waitc, errc := f.docker.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	var code int64
	select {
	case res := <-waitc:
		code = res.StatusCode
	case err := <-errc:
		t.Fatalf("agent %d with a refused token did not stop: %v\n%s", n, err, f.logs(t, id))
	}
	logs := f.logs(t, id)
	t.Logf("agent %d exited %d:\n%s", n, code, logs)
	if code == 0 {
		t.Errorf("agent %d exited 0 after a refused join", n)
	}
	if !strings.Contains(logs, why) {
		t.Errorf("agent %d's error does not say %q", n, why)
	}
	if secret := token[strings.LastIndex(token, ".")+1:]; strings.Contains(logs, secret) {
		t.Errorf("agent %d logged its join token's secret", n)
	}
	f.checkNoNode(t, f.node(n))
}

func (f *fleet) checkNoNode(t *testing.T, node string) {
	t.Helper()
	nodes, err := f.nodes()
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := nodes[node]; ok {
		t.Errorf("node %s exists (%s)", node, n.State)
	}
}

// token makes an agent join token with `fleet.sh token agent ARGS`.
func (f *fleet) token(t *testing.T, args ...string) string {
	t.Helper()
	out, err := f.sh(time.Minute, append([]string{"token", "agent"}, args...)...)
	token := strings.TrimSpace(out)
	if err != nil || !strings.HasPrefix(token, "ZKT1.") {
		t.Fatalf("fleet.sh token agent: %v\n%s", err, out)
	}
	return token
}

// startAgent starts agent n as a host joining the fleet would: its own
// container on the control network, with the engine's socket, a state
// directory of its own and the token in its environment. Its ports do not
// overlap the fleet's agents' (fleet.yml).
func (f *fleet) startAgent(t *testing.T, n int, token string) string {
	t.Helper()
	sock := envOr("ZAKI_FLEET_DOCKER_SOCKET", "/var/run/docker.sock")
	var st syscall.Stat_t
	if err := syscall.Stat(sock, &st); err != nil {
		t.Fatalf("docker socket: %v", err)
	}
	gw, svc := f.gateway(), "agent"+strconv.Itoa(n)
	cfg := &container.Config{
		Image: f.image,
		User:  fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
		Env:   []string{"ZAKI_JOIN_TOKEN=" + token},
		Cmd: []string{"agent", "--node-id=" + f.node(n), "--join=cp1:7400,cp2:7400,cp3:7400",
			"--state-dir=/var/lib/zaki/agent", "--address=" + gw,
			fmt.Sprintf("--port-min=%d", 19000+100*n), fmt.Sprintf("--port-max=%d", 19099+100*n),
			"--max-tenants=2", "--bot-api-url=http://" + gw + ":7480", "--http-listen=0.0.0.0:7402"},
		Labels: map[string]string{"zaki.fleet-test": f.name},
	}
	host := &container.HostConfig{
		Binds:    []string{sock + ":/var/run/docker.sock", t.TempDir() + ":/var/lib/zaki/agent"},
		GroupAdd: []string{strconv.FormatUint(uint64(st.Gid), 10)},
		Tmpfs:    map[string]string{"/tmp": ""},
	}
	nets := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		f.network("control"): {Aliases: []string{svc}}}}
	ctx := t.Context()
	created, err := f.docker.ContainerCreate(ctx, cfg, host, nets, nil, f.project()+"-"+svc)
	if err != nil {
		t.Fatalf("create %s: %v", svc, err)
	}
	t.Cleanup(func() { f.removeAgent(t, n) })
	if err := f.docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start %s: %v", svc, err)
	}
	return created.ID
}

func (f *fleet) removeAgent(t *testing.T, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := f.project() + "-agent" + strconv.Itoa(n)
	err := f.docker.ContainerRemove(ctx, name, container.RemoveOptions{Force: true})
	if err != nil && !strings.Contains(err.Error(), "No such container") {
		t.Errorf("remove agent %d: %v", n, err)
	}
}

// logs is everything a container wrote.
func (f *fleet) logs(t *testing.T, id string) string {
	t.Helper()
	return f.logsSince(t, id, time.Time{})
}

// logsSince is what a container wrote from since on; all of it for the zero
// time.
func (f *fleet) logsSince(t *testing.T, id string, since time.Time) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true}
	if !since.IsZero() {
		opts.Since = since.Format(time.RFC3339Nano)
	}
	rc, err := f.docker.ContainerLogs(ctx, id, opts)
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	defer rc.Close()
	var out strings.Builder
	_, _ = stdcopy.StdCopy(&out, &out, rc)
	return out.String()
}
