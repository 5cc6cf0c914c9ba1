package cpdial

import (
	"context"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// fake is a control-plane replica: a health service that counts the Check
// calls it served, so a test sees which replica a call landed on. Watch is
// what the client's health checking uses; it reports status, which a test
// may change.
type fake struct {
	healthpb.UnimplementedHealthServer
	addr    string
	srv     *grpc.Server
	calls   atomic.Int32
	streams atomic.Int32
	status  *health.Server
}

func (f *fake) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	f.calls.Add(1)
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// Watch of service "test" is a test's own stream, counted; any other is
// the client's health checking.
func (f *fake) Watch(req *healthpb.HealthCheckRequest, s healthpb.Health_WatchServer) error {
	if req.Service != "test" {
		return f.status.Watch(req, s)
	}
	f.streams.Add(1)
	if err := s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
		return err
	}
	<-s.Context().Done()
	return s.Context().Err()
}

// startFake serves a fake on a loopback port until the test ends.
func startFake(t *testing.T) *fake {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{addr: lis.Addr().String(), srv: grpc.NewServer(), status: health.NewServer()}
	healthpb.RegisterHealthServer(f.srv, f)
	go func() { _ = f.srv.Serve(lis) }()
	t.Cleanup(f.srv.Stop)
	return f
}

// deadAddr is a loopback address nobody listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

func dial(t *testing.T, addrs ...string) healthpb.HealthClient {
	t.Helper()
	conn, err := Dial(addrs, insecure.NewCredentials())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func check(t *testing.T, cli healthpb.HealthClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := cli.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("check: %v", err)
	}
}

func TestDialSkipsADeadAddress(t *testing.T) {
	live := startFake(t)
	check(t, dial(t, deadAddr(t), live.addr))
	if live.calls.Load() != 1 {
		t.Fatalf("live replica served %d calls, want 1", live.calls.Load())
	}
}

func TestUnaryFailsOver(t *testing.T) {
	a, b := startFake(t), startFake(t)
	cli := dial(t, a.addr+","+b.addr)
	check(t, cli)
	a.srv.Stop()
	// A call racing the stop may already be on the wire to the dead replica
	// and fail Unavailable (no retry: not every call is idempotent); every
	// one after it lands on the second replica.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := cli.Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.OK &&
		status.Code(err) != codes.Unavailable {
		t.Fatalf("call racing the stop: %v", err)
	}
	awaitOnly(t, cli, b)
}

func TestUnhealthyReplicaIsSkipped(t *testing.T) {
	a, b := startFake(t), startFake(t)
	cli := dial(t, a.addr, b.addr)
	check(t, cli)
	a.status.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	awaitOnly(t, cli, b)
	b.status.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	a.status.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	awaitOnly(t, cli, a)
}

// awaitOnly waits (bounded) until calls land on want alone, then checks
// that the next three do.
func awaitOnly(t *testing.T, cli healthpb.HealthClient, want *fake) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for run := 0; run < 3; {
		before := want.calls.Load()
		check(t, cli)
		if want.calls.Load() == before+1 {
			run++
			continue
		}
		run = 0
		if time.Now().After(deadline) {
			t.Fatalf("calls still land off %s", want.addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStreamReopensOnTheOtherReplica(t *testing.T) {
	a, b := startFake(t), startFake(t)
	cli := dial(t, a.addr, b.addr)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	watch := func() healthpb.Health_WatchClient {
		s, err := cli.Watch(ctx, &healthpb.HealthCheckRequest{Service: "test"})
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("first status: %v", err)
		}
		return s
	}
	s := watch()
	// The stream opened on one replica; stop that one and it must reopen
	// on the other.
	first, other := a, b
	if b.streams.Load() == 1 {
		first, other = b, a
	}
	first.srv.Stop()
	if _, err := s.Recv(); err == nil {
		t.Fatal("the stream outlived its replica")
	}
	watch()
	if other.streams.Load() != 1 {
		t.Fatalf("the reopened stream is not on the other replica (a=%d b=%d)", a.streams.Load(), b.streams.Load())
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"one", "127.0.0.1:7400", []string{"127.0.0.1:7400"}},
		{"list with blanks and spaces", " a:1, ,b:2,", []string{"a:1", "b:2"}},
		{"duplicates keep the first", "a:1,b:2,a:1", []string{"a:1", "b:2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Split(tc.in); !slices.Equal(got, tc.want) {
				t.Fatalf("Split(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDialNeedsAnAddress(t *testing.T) {
	if _, err := Dial([]string{" , "}, insecure.NewCredentials()); err != ErrNoAddress {
		t.Fatalf("err = %v, want ErrNoAddress", err)
	}
}
