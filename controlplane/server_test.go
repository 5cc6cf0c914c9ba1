package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zaki-platform/zaki/internal/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"client port in use", func(c *Config) { c.EtcdClientURL = "http://" + busy.Addr().String() },
			fmt.Sprintf("etcd client port %s is in use: is another zaki controlplane running? use --etcd-client-url",
				busy.Addr())},
		{"data dir is a file", func(c *Config) { c.DataDir = filepath.Join(file, "etcd") }, "etcd data dir"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "no etcd data dir"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{DataDir: t.TempDir(), GRPCListen: "127.0.0.1:0",
				EtcdClientURL: fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)),
				EtcdPeerURL:   fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t))}
			tc.mod(&cfg)
			s, err := Start(context.Background(), cfg)
			if err == nil {
				t.Fatalf("started %v", s.Addr())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func TestReadyAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := startServer(t, func(c *Config) { c.Registry = reg })
	if err := s.Ready(); err != nil {
		t.Fatalf("ready: %v", err)
	}
	c := dial(t, s)
	ensureUser(t, c, 1)
	register(t, c, testNode("node-1", 1024))
	eventually(t, "the pending tenant placed", func() bool {
		return gathered(t, reg, "zaki_controlplane_placements_scheduled_total", "") == 1
	})
	checks := map[string]float64{
		"zaki_controlplane_tenants_created_total":      1,
		"zaki_controlplane_agent_sessions":             1,
		"zaki_controlplane_placements_scheduled_total": 1,
	}
	for name, want := range checks {
		if got := gathered(t, reg, name, ""); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := gathered(t, reg, "zaki_controlplane_scheduling_failures_total", reasonNoNodes); got != 1 {
		t.Errorf("no_nodes failures = %v", got)
	}
}

// gathered is the value of metric name, of its series with that reason
// label when reason is set.
func gathered(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == reason) {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestToStatus(t *testing.T) {
	cases := []struct {
		err  error
		code codes.Code
	}{
		{fmt.Errorf("x: %w", errInvalid), codes.InvalidArgument},
		{fmt.Errorf("x: %w", errNotFound), codes.NotFound},
		{fmt.Errorf("x: %w", errPrecondition), codes.FailedPrecondition},
		{fmt.Errorf("x: %w", errConflict), codes.Aborted},
		{fmt.Errorf("x: %w", errCompacted), codes.OutOfRange},
		{fmt.Errorf("x: %w", errSessionClosed), codes.Unavailable},
		{context.Canceled, codes.Canceled},
		{status.Error(codes.ResourceExhausted, "etcd says"), codes.ResourceExhausted},
		{errors.New("boom"), codes.Internal},
	}
	for _, tc := range cases {
		t.Run(tc.code.String(), func(t *testing.T) {
			if got := status.Code(toStatus(tc.err)); got != tc.code {
				t.Fatalf("%v -> %v, want %v", tc.err, got, tc.code)
			}
		})
	}
}

func TestCompactedWatchEndsStream(t *testing.T) {
	v := newView()
	v.rev = 10
	_, err := applyWatch(context.Background(), v, clientv3.WatchResponse{CompactRevision: 50}, true)
	if !errors.Is(err, errCompacted) || status.Code(toStatus(err)) != codes.OutOfRange {
		t.Fatalf("compacted watch: %v", err)
	}
}
