package agent

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// stoppedSource is node n1 over a fake engine holding tenant 7 stopped at
// generation 4 for n2, serving vol without TLS.
func stoppedSource(t *testing.T, vol []byte) (*Agent, *fakeDocker) {
	t.Helper()
	ready := readyServer(t, func() int { return http.StatusOK })
	f := newFakeDocker("zaki-test:v1")
	id := f.add(ObjectName("n1", "7"), "exited", labelsFor("7", "3"))
	withVolume(f, id, ObjectName("n1", "7"))
	f.volumeTar[ObjectName("n1", "7")] = vol
	a := fakeNode(t, "n1", f, testProfile(ready), nil)
	a.setWant("7", stoppedAssignment("7", 4, "n2"))
	eventually(t, 5*time.Second, "STOPPED", func() bool {
		return a.board.get("7").GetState() == zakiv1.PlacementState_PLACEMENT_STATE_STOPPED
	})
	return a, f
}

// TestPullBusy: a source serving its maximum refuses more pulls, and a
// target waits that out (saying so) instead of failing.
func TestPullBusy(t *testing.T) {
	vol := tarOf(t, dir("data/"), file("data/x"))
	src, _ := stoppedSource(t, vol)
	for range maxPulls {
		src.transfer.slots <- struct{}{}
	}
	err := plainPull(t, src.transferAddr, &zakiv1.PullVolumeRequest{TenantId: "7", Generation: 4})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("pull while busy: %v, want ResourceExhausted", err)
	}

	ready := readyServer(t, func() int { return http.StatusOK })
	dst := fakeNode(t, "n2", newFakeDocker("zaki-test:v1"), testProfile(ready), nil)
	restore := testAssignment("7", 4, 19002)
	restore.RestoreFrom = &zakiv1.MoveSource{NodeId: "n1", TransferAddress: src.transferAddr}
	dst.setWant("7", restore)
	eventually(t, 10*time.Second, "the target waiting", func() bool {
		return strings.Contains(dst.board.get("7").GetReason(), "serving other moves")
	})
	for range maxPulls {
		<-src.transfer.slots
	}
	eventually(t, 20*time.Second, "RUNNING once the source is free", func() bool {
		return dst.board.get("7").GetState() == zakiv1.PlacementState_PLACEMENT_STATE_RUNNING
	})
	if v := metricValue(dst.m.restores.WithLabelValues("failed")); v != 0 {
		t.Errorf("failed restores = %v, want 0: waiting for a busy source is no failure", v)
	}
}

// gate is a reader that blocks until open is closed, then gives one chunk.
type gate struct {
	open chan struct{}
	rest io.Reader
}

func (g *gate) Read(p []byte) (int, error) {
	<-g.open
	return g.rest.Read(p)
}

// TestPullCalledOff: once the source's want moves on from stopped, a pull
// in flight is cut off; nothing more of the volume goes out.
func TestPullCalledOff(t *testing.T) {
	g := &gate{open: make(chan struct{}), rest: bytes.NewReader(make([]byte, chunkSize))}
	src, f := stoppedSource(t, nil)
	f.volumeReader = func() io.Reader { return io.MultiReader(bytes.NewReader(make([]byte, chunkSize)), g) }

	conn, err := grpc.NewClient(src.transferAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := zakiv1.NewTransferServiceClient(conn).PullVolume(ctx, &zakiv1.PullVolumeRequest{TenantId: "7", Generation: 4})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.Recv(); err != nil || len(m.GetData()) != chunkSize {
		t.Fatalf("first chunk: %v", err)
	}
	src.setWant("7", testAssignment("7", 5, 19001)) // the move is called off
	close(g.open)
	_, err = s.Recv()
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "called off") {
		t.Fatalf("after the want moved on: %v, want Aborted", err)
	}
}
