package controlplane

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// The benchmarks of docs/benchmarks.md. Run them with
//
//	go test ./controlplane/ -run '^$' -bench . -benchtime 400x
//
// Every number is next to a reference measured in the same run on the same
// embedded etcd, so that it means something on a shared machine.

const (
	benchAgents  = 100
	benchWorkers = 4
)

// benchServer runs a control plane on embedded etcd (fsync on, as in
// production) until the benchmark ends.
func benchServer(b *testing.B, mods ...func(*Config)) *Server {
	b.Helper()
	production := func(c *Config) { c.unsafeNoFsync, c.ProgressInterval, c.pendingRetry = false, 0, 0 }
	return startConfig(b, testConfig(b, append([]func(*Config){production}, mods...)...))
}

// benchConn is a mutual-TLS connection to s as a control plane, which may
// open any node's session and call every service.
func benchConn(b *testing.B, s *Server) *grpc.ClientConn {
	b.Helper()
	key, err := pki.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	csr, err := pki.NewCSR(key, superuser)
	if err != nil {
		b.Fatal(err)
	}
	cert, err := s.trust.ca.SignCSR(csr, superuser, time.Now(), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.recordCert(context.Background(), superuser, cert); err != nil {
		b.Fatal(err)
	}
	creds := bundleCreds(&pki.Bundle{Key: key, Cert: cert, CA: s.trust.ca.Cert})
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(creds))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// simAgent is a simulated agent: it registers, heartbeats every period and
// reads what it is sent, until stop.
type simAgent struct {
	stream grpc.BidiStreamingClient[zakiv1.SessionRequest, zakiv1.SessionResponse]
	stop   context.CancelFunc
	done   sync.WaitGroup
}

func startSimAgent(b *testing.B, cli zakiv1.AgentServiceClient, node *zakiv1.Node, period time.Duration) *simAgent {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := cli.Session(ctx)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	a := &simAgent{stream: stream, stop: cancel}
	if err := stream.Send(regMsg(1, node)); err != nil {
		b.Fatal(err)
	}
	for range 2 { // Welcome, DesiredSet
		if _, err := stream.Recv(); err != nil {
			b.Fatalf("handshake of %s: %v", node.Id, err)
		}
	}
	a.done.Go(func() {
		for {
			if _, err := stream.Recv(); err != nil {
				return
			}
		}
	})
	a.done.Go(func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if stream.Send(heartbeatMsg) != nil {
					return
				}
			}
		}
	})
	b.Cleanup(a.close)
	return a
}

func (a *simAgent) close() { a.stop(); a.done.Wait() }

var heartbeatMsg = &zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Heartbeat{Heartbeat: &zakiv1.Heartbeat{}}}

// parallel runs fn(i) for i in [0,n) on benchWorkers goroutines and returns
// the rate per second.
func parallel(b *testing.B, n int, fn func(i int) error) float64 {
	b.Helper()
	var next atomic.Int64
	var failed atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := fn(i); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkPlacements creates and places b.N tenants through the gRPC API
// while benchAgents simulated agents hold sessions (each told about every
// change on its node), next to raw etcd transactions of the same shape (six
// guards, five puts) on the same etcd.
func BenchmarkPlacements(b *testing.B) {
	s := benchServer(b)
	conn := benchConn(b, s)
	agents, tenants := zakiv1.NewAgentServiceClient(conn), zakiv1.NewTenantServiceClient(conn)
	for i := range benchAgents {
		n := testNode(fmt.Sprintf("bench-%03d", i), 64<<10)
		n.MaxTenants = 1000
		startSimAgent(b, agents, n, time.Second)
	}
	var chat atomic.Int64
	b.Run(fmt.Sprintf("placements/agents=%d", benchAgents), func(b *testing.B) {
		base := chat.Add(int64(b.N)) - int64(b.N)
		rate := parallel(b, b.N, func(i int) error {
			id := base + int64(i) + 1
			resp, err := tenants.EnsureTenant(context.Background(), &zakiv1.EnsureTenantRequest{ChatId: id,
				Kind: zakiv1.TenantKind_TENANT_KIND_USER, OwnerUserId: id, Create: true})
			if err == nil && resp.Route.State != zakiv1.PlacementState_PLACEMENT_STATE_SCHEDULED {
				err = fmt.Errorf("tenant %d not placed: %v", id, resp.Route.State)
			}
			return err
		})
		b.ReportMetric(rate, "placements/s")
	})
	var txn atomic.Int64
	b.Run("reference/etcd-txn-same-shape", func(b *testing.B) {
		base := txn.Add(int64(b.N)) - int64(b.N)
		val := string(make([]byte, 120))
		rate := parallel(b, b.N, func(i int) error {
			k := fmt.Sprintf("/bench/%d/", base+int64(i))
			keys := []string{k + "tenant", k + "secrets", k + "binding", k + "placement", k + "port", k + "cooldown"}
			cmps := make([]clientv3.Cmp, 0, len(keys))
			ops := make([]clientv3.Op, 0, len(keys)-1)
			for j, key := range keys {
				cmps = append(cmps, absent(key))
				if j < len(keys)-1 {
					ops = append(ops, clientv3.OpPut(key, val))
				}
			}
			resp, err := s.cli.Txn(context.Background()).If(cmps...).Then(ops...).Commit()
			if err == nil && !resp.Succeeded {
				err = fmt.Errorf("reference txn %s lost", k)
			}
			return err
		})
		b.ReportMetric(rate, "txns/s")
	})
}

// BenchmarkNodeDown measures, per iteration, the time from a node's last
// heartbeat to its down marker in etcd, with a 100ms period and 3 missed
// periods (a 300ms timeout, reported as the reference).
func BenchmarkNodeDown(b *testing.B) {
	const period, missed = 100 * time.Millisecond, 3
	s := benchServer(b, func(c *Config) { c.HeartbeatPeriod = period; c.MissedHeartbeats = missed })
	agents := zakiv1.NewAgentServiceClient(benchConn(b, s))
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("down-%04d", i)
		watch, cancelWatch := context.WithTimeout(context.Background(), 30*time.Second)
		wch := s.cli.Watch(watch, downKey(id))
		a := startSimAgent(b, agents, testNode(id, 1024), time.Hour)
		if err := a.stream.Send(heartbeatMsg); err != nil {
			b.Fatal(err)
		}
		last := time.Now()
		a.close() // the node dies right after its heartbeat
		select {
		case <-wch:
			total += time.Since(last)
		case <-watch.Done():
			b.Fatalf("node %s never marked down", id)
		}
		cancelWatch()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-down")
	b.ReportMetric(float64((missed * period).Milliseconds()), "ms-timeout")
}
