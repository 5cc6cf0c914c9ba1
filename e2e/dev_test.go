package e2e

import (
	"context"
	"crypto/rand"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zaki-platform/zaki/internal/devcluster"
	"github.com/zaki-platform/zaki/internal/samples"
	"github.com/zaki-platform/zaki/internal/testutil"
)

// TestDevServesSampleConversation is `make run` in a test: zaki dev plays the
// sample conversation through the real webhook path, and every update lands in
// the container the shared baseline says it belongs to.
func TestDevServesSampleConversation(t *testing.T) {
	testutil.EchoImage(t)
	port := func() string { return strconv.Itoa(testutil.FreePort(t)) }
	ctx, cancel := context.WithCancel(context.Background())
	node := "dev-e2e-" + strings.ToLower(rand.Text()[:6])
	dc, err := devcluster.Start(ctx, devcluster.Options{
		NodeID:        node,
		GRPCListen:    "127.0.0.1:" + port(),
		EtcdClientURL: "http://127.0.0.1:" + port(),
		EtcdPeerURL:   "http://127.0.0.1:" + port(),
		WebhookListen: "127.0.0.1:" + port(),
		FrontPort:     testutil.FreePort(t),
		StandinListen: "127.0.0.1:0",
		OpsListen:     "127.0.0.1:0",
		PortMin:       32100, PortMax: 32199, // below the kernel's ephemeral range
		CredentialsDir: t.TempDir(),
		Logger:         hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Info}),
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := dc.Wait(); err != nil {
			t.Errorf("dev cluster stopped with: %v", err)
		}
	})

	codes, err := dc.PlaySamples(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, code := range codes {
		if code != http.StatusOK {
			t.Errorf("sample update %d answered %d", i, code)
		}
	}

	c := &cluster{t: t, docker: testutil.RequireDocker(t), node: node, standin: dc.Standin}
	want := map[string][]int64{}
	for id, tenant := range samples.ExpectedTenant {
		if tenant != "" {
			want[tenant] = append(want[tenant], id)
		}
	}
	waitUntil(t, 120*time.Second, "every sample update in its tenant's container", func() error {
		cs := c.containers()
		for tenant, ids := range want {
			if len(cs[tenant]) != 1 {
				return errorf("tenant %s has %d containers", tenant, len(cs[tenant]))
			}
			got, err := c.received(cs[tenant][0].ID)
			if err != nil {
				return err
			}
			if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(ids))) {
				return errorf("tenant %s has %v, want %v", tenant, got, ids)
			}
		}
		if len(cs) != len(want) {
			return errorf("%d containers, want %d (one per tenant)", len(cs), len(want))
		}
		return nil
	})
	waitUntil(t, 30*time.Second, "the echo of Mina's first message", func() error {
		if !c.replies()[mina]["echo: /start"] {
			return errorf("no reply yet")
		}
		return nil
	})
	for chat := range c.replies() {
		if chat == -1002010000001 {
			t.Errorf("the unroutable forum got a reply")
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
