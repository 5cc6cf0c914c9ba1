package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
	"github.com/zaki-platform/zaki/profile"
)

// testBundle is a node certificate for id, issued by ca like a join does.
func testBundle(t *testing.T, ca *pki.CA, id pki.Identity) *pki.Bundle {
	t.Helper()
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(key, id)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.SignCSR(csr, id, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &pki.Bundle{Key: key, Cert: cert, CA: ca.Cert}
}

func agentBundle(t *testing.T, ca *pki.CA, node string) func() *pki.Bundle {
	b := testBundle(t, ca, pki.Identity{Role: pki.RoleAgent, ID: node})
	return func() *pki.Bundle { return b }
}

// fakeNode is an agent over a fake engine whose workers and transfer
// service run until the test ends, without a control plane.
func fakeNode(t *testing.T, node string, f *fakeDocker, p profile.Profile, bundle func() *pki.Bundle) *Agent {
	t.Helper()
	a, err := New(Config{NodeID: node, Docker: f, TransferListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	a.lookup = func(string) (profile.Profile, error) { return p, nil }
	a.bundle = bundle
	ctx, cancel := context.WithCancel(context.Background())
	a.runCtx = ctx
	t.Cleanup(func() { cancel(); a.workers.Wait() })
	if err := a.serveTransfer(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}

// pull makes one PullVolume call with tlsConf and returns the stream's error.
func pull(t *testing.T, addr string, tlsConf *tls.Config, req *zakiv1.PullVolumeRequest) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsConf)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := zakiv1.NewTransferServiceClient(conn).PullVolume(ctx, req)
	if err != nil {
		return err
	}
	for {
		if _, err := s.Recv(); err != nil {
			return err
		}
	}
}

// TestMoveOnFakes runs a move between two agents over fake engines and the
// real TransferService with mutual TLS, and checks who may pull.
func TestMoveOnFakes(t *testing.T) {
	ca, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ready := readyServer(t, func() int { return http.StatusOK })
	p := testProfile(ready)
	vol := tarOf(t, dir("data/"), file("data/conf/tenant.json"), file("data/state.db"))

	fs := newFakeDocker("zaki-test:v1")
	id := fs.add(ObjectName("n1", "7"), "running", labelsFor("7", "3"))
	withVolume(fs, id, ObjectName("n1", "7"))
	fs.volumeTar[ObjectName("n1", "7")] = vol
	src := fakeNode(t, "n1", fs, p, agentBundle(t, ca, "n1"))
	src.setWant("7", stoppedAssignment("7", 4, "n2"))
	eventually(t, 5*time.Second, "STOPPED on the source", func() bool {
		return src.board.get("7").GetState() == zakiv1.PlacementState_PLACEMENT_STATE_STOPPED
	})

	// Who may pull: only n2, only generation 4, only with a CA certificate.
	req := &zakiv1.PullVolumeRequest{TenantId: "7", Generation: 4}
	other, _ := pki.NewCA(time.Now())
	refusals := []struct {
		name string
		conf *tls.Config
		req  *zakiv1.PullVolumeRequest
		code codes.Code
		msg  string
	}{
		{"another node", transferClientTLS(agentBundle(t, ca, "n3"), "n1", time.Now), req,
			codes.PermissionDenied, `moving from node n1 to node "n2"`},
		{"another generation", transferClientTLS(agentBundle(t, ca, "n2"), "n1", time.Now),
			&zakiv1.PullVolumeRequest{TenantId: "7", Generation: 5}, codes.FailedPrecondition, "not 5"},
		{"the source is not who the move names", transferClientTLS(agentBundle(t, ca, "n2"), "n9", time.Now), req,
			codes.Unavailable, "not the agent of node n9"},
		{"another cluster", transferClientTLS(agentBundle(t, other, "n2"), "n1", time.Now), req,
			codes.Unavailable, ""},
		{"no client certificate", &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}, req, //nolint:gosec // the test of a refusal.
			codes.Unavailable, ""},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			err := pull(t, src.transferAddr, tc.conf, tc.req)
			if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("pull = %v, want %v %q", err, tc.code, tc.msg)
			}
		})
	}
	if v := metricValue(src.m.pullsServed.WithLabelValues("refused")); v != 2 {
		t.Errorf("refused pulls = %v, want 2 (the others never reached the service)", v)
	}

	// The move: the target copies the volume in, then starts.
	ft := newFakeDocker("zaki-test:v1")
	ft.volumes[ObjectName("n2", "7")] = objectLabels("n2", "7") // left by an earlier stay
	dst := fakeNode(t, "n2", ft, p, agentBundle(t, ca, "n2"))
	restore := testAssignment("7", 4, 19002)
	restore.RestoreFrom = &zakiv1.MoveSource{NodeId: "n1", TransferAddress: src.transferAddr}
	dst.setWant("7", restore)
	eventually(t, 10*time.Second, "RUNNING on the target", func() bool {
		st := dst.board.get("7")
		return st.GetState() == zakiv1.PlacementState_PLACEMENT_STATE_RUNNING && st.GetGeneration() == 4
	})
	loaded := ft.loaded[ObjectName("n2", "7")]
	if len(loaded) != 2 || !bytes.Equal(loaded[0], vol) {
		t.Fatalf("the target's volume got %d copies, the first equal to the source's: %v",
			len(loaded), len(loaded) > 0 && bytes.Equal(loaded[0], vol))
	}
	name := ObjectName("n2", "7")
	want := []string{"volume remove " + name, "create " + loaderName("n2", "7") + " g", "remove " + loaderName("n2", "7"),
		"network create " + name, "create " + name + " g4", "start " + name}
	if got := ft.callLog(); !slices.Equal(got, want) {
		t.Errorf("target calls = %q, want %q", got, want)
	}
	if v := metricValue(dst.m.bytesPulled); v != float64(len(vol)) {
		t.Errorf("bytes pulled = %v, want %d", v, len(vol))
	}
	if v := metricValue(src.m.bytesServed); v != float64(len(vol)) {
		t.Errorf("bytes served = %v, want %d", v, len(vol))
	}
	if v := metricValue(dst.m.restores.WithLabelValues("ok")); v != 1 {
		t.Errorf("restores ok = %v, want 1", v)
	}
	if got := fs.snapshot()[id]; got != ObjectName("n1", "7")+"/exited/g3" {
		t.Errorf("the source's container is %s, want kept exited", got)
	}

	// The flip: the same generation without restore_from changes nothing.
	n, lists := len(ft.callLog()), ft.listCount()
	dst.setWant("7", testAssignment("7", 4, 19002))
	eventually(t, 5*time.Second, "two passes over the flipped want", func() bool {
		dst.resyncAll()
		return ft.listCount() >= lists+2
	})
	if st := dst.board.get("7"); st.GetState() != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING {
		t.Errorf("after the flip: %v", st)
	}
	if got := ft.callLog()[n:]; len(got) != 0 {
		t.Errorf("the flip made calls %q", got)
	}
}
