package controlplane

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestEtcdUnreachableFailsFast: a replica whose etcd stops answering says
// NOT_SERVING, fails calls Unavailable at once rather than at the caller's
// deadline, ends its streams Unavailable, and serves again when etcd is
// back.
func TestEtcdUnreachableFailsFast(t *testing.T) {
	client, peer := testEtcdURLs(t)
	startTestEtcd(t, t.TempDir(), client, peer)
	link := startCutProxy(t, strings.TrimPrefix(client, "http://"))
	kek := filepath.Join(t.TempDir(), "ca-kek")
	if _, _, err := pki.LoadOrCreateKEK(kek); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(c *Config) {
		c.EtcdEndpoints, c.CAKeyFile, c.ID = []string{"http://" + link.addr}, kek, "cp1"
		c.etcdProbe = 100 * time.Millisecond
	})
	c := dial(t, s)
	hc := healthpb.NewHealthClient(dialWith(t, s, memberCreds(t, s, superuser)))
	wantHealth(t, hc, healthpb.HealthCheckResponse_SERVING)
	if _, err := c.admin.ListNodes(testCtx(t), &zakiv1.ListNodesRequest{}); err != nil {
		t.Fatal(err)
	}
	agent, _ := register(t, c, testNode("node-1", 1024))

	link.cut()
	wantHealth(t, hc, healthpb.HealthCheckResponse_NOT_SERVING)
	if _, err := agent.stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("an agent session on a replica without etcd: %v, want Unavailable", err)
	}
	// The caller's deadline is far: Unavailable must come from the gate,
	// not from the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.admin.ListNodes(ctx, &zakiv1.ListNodesRequest{})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "cannot reach etcd") {
		t.Fatalf("a call on a replica without etcd: %v, want Unavailable", err)
	}

	link.heal()
	wantHealth(t, hc, healthpb.HealthCheckResponse_SERVING)
	if _, err := c.admin.ListNodes(testCtx(t), &zakiv1.ListNodesRequest{}); err != nil {
		t.Fatalf("after etcd came back: %v", err)
	}
}

// wantHealth waits (bounded) until the replica's overall health is want.
func wantHealth(t *testing.T, hc healthpb.HealthClient, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	eventually(t, "health "+want.String(), func() bool {
		resp, err := hc.Check(testCtx(t), &healthpb.HealthCheckRequest{})
		return err == nil && resp.Status == want
	})
}

// TestReplicaIDsMustDiffer: a second replica under an id that a live one
// holds gives up with an error that says what to change.
func TestReplicaIDsMustDiffer(t *testing.T) {
	client, peer := testEtcdURLs(t)
	startTestEtcd(t, t.TempDir(), client, peer)
	kek := filepath.Join(t.TempDir(), "ca-kek")
	if _, _, err := pki.LoadOrCreateKEK(kek); err != nil {
		t.Fatal(err)
	}
	same := func(c *Config) {
		c.EtcdEndpoints, c.CAKeyFile, c.ID, c.ReplicaTTL = []string{client}, kek, "twin", time.Second
	}
	startServer(t, same)
	_, err := Start(testCtx(t), testConfig(t, same))
	if err == nil || !strings.Contains(err.Error(), "another control plane is registered as twin") ||
		!strings.Contains(err.Error(), "--id") {
		t.Fatalf("second replica with the same id: %v", err)
	}
}

// TestReplicaWithAnotherKEK: a replica whose key-encryption key cannot
// open the cluster CA that another made says so, and how to fix it.
func TestReplicaWithAnotherKEK(t *testing.T) {
	client, peer := testEtcdURLs(t)
	startTestEtcd(t, t.TempDir(), client, peer)
	keks := []string{filepath.Join(t.TempDir(), "ca-kek"), filepath.Join(t.TempDir(), "ca-kek")}
	for _, k := range keks {
		if _, _, err := pki.LoadOrCreateKEK(k); err != nil {
			t.Fatal(err)
		}
	}
	startServer(t, func(c *Config) { c.EtcdEndpoints, c.CAKeyFile, c.ID = []string{client}, keks[0], "cp1" })
	_, err := Start(testCtx(t), testConfig(t, func(c *Config) {
		c.EtcdEndpoints, c.CAKeyFile, c.ID = []string{client}, keks[1], "cp2"
	}))
	for _, want := range []string{"cannot decrypt its key from etcd with the key-encryption key in " + keks[1],
		"every control plane of a cluster must use the same one", "Copy the ca-kek", "--ca-key-file"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("a replica with another key-encryption key: %v; want it to say %q", err, want)
		}
	}
}
