// Package testutil holds helpers for tests that use the real thing: Docker,
// etcd, free loopback ports, the repository root.
package testutil

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// InCI reports whether the tests run under CI, where a missing dependency is a
// failure rather than a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireDocker returns a client of the local Docker Engine, with API version
// negotiation. Without a reachable engine the test is skipped with a clear
// message, except under CI=true, where it fails.
func RequireDocker(t testing.TB) *client.Client {
	t.Helper()
	cli, err := DockerClient(t)
	if err != nil {
		if InCI() {
			t.Fatalf("CI=true and the Docker Engine is not reachable: %v", err)
		}
		t.Skipf("skipping: this test needs a Docker Engine (%v); start Docker or set DOCKER_HOST", err)
	}
	return cli
}

// DockerClient connects to the local Docker Engine (DOCKER_HOST and
// friends, API version negotiated) and checks it answers; the client is
// closed when the test ends. For callers that decide themselves what a
// missing engine means.
func DockerClient(t testing.TB) (*client.Client, error) {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		return nil, err
	}
	return cli, nil
}
