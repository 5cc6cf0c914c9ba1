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
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = cli.Ping(ctx)
	}
	if err != nil {
		if InCI() {
			t.Fatalf("CI=true and the Docker Engine is not reachable: %v", err)
		}
		t.Skipf("skipping: this test needs a Docker Engine (%v); start Docker or set DOCKER_HOST", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}
