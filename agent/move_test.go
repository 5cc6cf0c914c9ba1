package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/testutil"
)

// TestMoveOnDocker moves a tenant between two agents on the real engine:
// the source stops its container and serves the volume, the target copies
// it in and starts, the flip restarts nothing, the source then discards
// its leftovers, volume included. At no sampled instant do two containers
// of the tenant run.
func TestMoveOnDocker(t *testing.T) {
	cli := testutil.RequireDocker(t)
	image := testutil.EchoImage(t)
	ctx := context.Background()
	src, dst := startMoveNode(t, cli, image), startMoveNode(t, cli, image)
	const tenant = "-4503599627370497"
	first := echoAssignment(t, tenant, 1)
	src.s.welcome(t, first)
	dst.s.welcome(t)
	srcID := src.waitState(t, tenant, 1, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING).GetContainerId()
	err := cli.CopyToContainer(ctx, srcID, "/", bytes.NewReader(movedFiles(t, "tenant-state")), container.CopyToContainerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	samples := sampleRunning(t, cli, tenant, src.id, dst.id)

	// A pull while the tenant runs is refused.
	req := &zakiv1.PullVolumeRequest{TenantId: tenant, Generation: 1}
	if err := plainPull(t, src.a.transferAddr, req); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("pull of a running tenant: %v, want FailedPrecondition", err)
	}

	// 1. The source stops, and keeps, the container.
	stop := proto.Clone(first).(*zakiv1.Assignment)
	stop.Generation, stop.Stopped, stop.MoveToNodeId = 2, true, dst.id
	src.upsert(t, stop)
	if id := src.waitState(t, tenant, 2, zakiv1.PlacementState_PLACEMENT_STATE_STOPPED).GetContainerId(); id != srcID {
		t.Fatalf("STOPPED names container %.12s, want the tenant's %.12s", id, srcID)
	}
	if c, err := cli.ContainerInspect(ctx, srcID); err != nil || c.State.Running {
		t.Fatalf("the source container after STOPPED: running=%v, %v", err == nil && c.State.Running, err)
	}
	req.Generation = 3
	if err := plainPull(t, src.a.transferAddr, req); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(err.Error(), "not 3") {
		t.Fatalf("pull of another generation: %v", err)
	}

	// 2. The target restores and starts at generation 2.
	restore := echoAssignment(t, tenant, 2)
	restore.RestoreFrom = &zakiv1.MoveSource{NodeId: src.id, TransferAddress: src.a.transferAddr}
	dst.upsert(t, restore)
	dstID := dst.waitState(t, tenant, 2, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING).GetContainerId()
	before, after := volumeTree(t, cli, srcID, "/tenant-state"), volumeTree(t, cli, dstID, "/tenant-state")
	if !reflect.DeepEqual(before, after) {
		t.Errorf("the volume changed in the move:\nsource %v\ntarget %v", before, after)
	}
	if e := after["tenant-state/moved/odd"]; e.UID != 4321 || e.GID != 8765 || e.Mode&0o7777 != 0o604 {
		t.Errorf("moved/odd arrived as %+v, want owner 4321:8765 mode 0604", e)
	}
	t.Logf("moved %d entries; %v bytes pulled", len(after), metricValue(dst.a.m.bytesPulled))

	// 3. The flip: the same generation, no restore_from: nothing restarts.
	started := startedAt(t, cli, dstID)
	lists := dst.docker.lists.Load()
	flip := proto.Clone(restore).(*zakiv1.Assignment)
	flip.RestoreFrom = nil
	dst.upsert(t, flip)
	eventually(t, 30*time.Second, "two passes over the flipped assignment", func() bool {
		return dst.docker.lists.Load() >= lists+3
	})
	if got := startedAt(t, cli, dstID); got != started {
		t.Errorf("the flip restarted the target's container (%s, then %s)", started, got)
	}
	if v := metricValue(dst.a.m.starts); v != 1 {
		t.Errorf("target starts = %v, want 1", v)
	}

	// 4. The source discards its leftovers: container, network and volume
	// go, DISCARDED is reported, and the target's container is untouched.
	// (A tenant merely unassigned keeps its volume: TestAgentOnDocker.)
	discard := proto.Clone(stop).(*zakiv1.Assignment)
	discard.Discard = true
	src.upsert(t, discard)
	src.waitState(t, tenant, 2, zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED)
	name := ObjectName(src.id, tenant)
	if _, err := cli.ContainerInspect(ctx, srcID); !client.IsErrNotFound(err) {
		t.Errorf("the source's container after DISCARDED: %v, want not found", err)
	}
	if _, err := cli.NetworkInspect(ctx, name, network.InspectOptions{}); !client.IsErrNotFound(err) {
		t.Errorf("the source's network after DISCARDED: %v, want not found", err)
	}
	if _, err := cli.VolumeInspect(ctx, name); !client.IsErrNotFound(err) {
		t.Errorf("the source's volume after DISCARDED: %v, want not found", err)
	}
	if v := metricValue(src.a.m.discards.WithLabelValues("ok")); v != 1 {
		t.Errorf("source discards ok = %v, want 1", v)
	}
	if req.Generation = 2; plainPull(t, src.a.transferAddr, req) == nil {
		t.Error("a discarded tenant's volume was served")
	}
	if got := startedAt(t, cli, dstID); got != started {
		t.Errorf("the discard restarted the target's container (%s, then %s)", started, got)
	}
	if after := volumeTree(t, cli, dstID, "/tenant-state"); !reflect.DeepEqual(before, after) {
		t.Errorf("the target's volume changed with the discard:\nbefore %v\nafter  %v", before, after)
	}
	// The control plane then drops the tenant: nothing is left to remove.
	src.s.send(t, &zakiv1.SessionResponse{Msg: &zakiv1.SessionResponse_Change{Change: &zakiv1.AssignmentChange{
		Change: &zakiv1.AssignmentChange_RemoveTenantId{RemoveTenantId: tenant}}}})
	eventually(t, 30*time.Second, "the source's worker for the tenant gone", func() bool {
		src.a.mu.Lock()
		defer src.a.mu.Unlock()
		return src.a.tenants[tenant] == nil
	})
	countContainers(t, cli, src.id, 0)
	countContainers(t, cli, dst.id, 1)
	samples.stop()
	if samples.most.Load() > 1 {
		t.Errorf("%d containers of tenant %s ran at once", samples.most.Load(), tenant)
	}
	t.Logf("sampled %d times, at most %d running", samples.samples.Load(), samples.most.Load())
}

// TestMoveRetriesCleanly: a source with no container and no volume fails
// plainly; with a volume it serves through a never-started holder; a
// corrupt and then a cut-short transfer are each reported and retried from
// scratch, and the third copy lands whole over a stale volume.
func TestMoveRetriesCleanly(t *testing.T) {
	cli := testutil.RequireDocker(t)
	image := testutil.EchoImage(t)
	ctx := context.Background()
	src, dst := startMoveNode(t, cli, image), startMoveNode(t, cli, image)
	const tenant = "77"
	stop := echoAssignment(t, tenant, 2)
	stop.Stopped, stop.MoveToNodeId = true, dst.id
	src.s.welcome(t, stop)
	src.waitState(t, tenant, 2, zakiv1.PlacementState_PLACEMENT_STATE_FAILED)
	if r := src.reasons(tenant); !strings.Contains(r[0], "no container and no volume on node "+src.id) {
		t.Errorf("reason %q", r[0])
	}
	files := movedFiles(t, "tenant-state")
	populateVolume(t, cli, src.id, tenant, image, "/tenant-state", files)
	holder := src.waitState(t, tenant, 2, zakiv1.PlacementState_PLACEMENT_STATE_STOPPED).GetContainerId()
	if c, err := cli.ContainerInspect(ctx, holder); err != nil || c.State.Status != "created" {
		t.Fatalf("holder: %v %v, want created and never started", c.State, err)
	}
	populateVolume(t, cli, dst.id, tenant, image, "/tenant-state", movedFiles(t, "tenant-state/stale"))

	flaky := startFlakySource(t, src.a.transferAddr)
	restore := echoAssignment(t, tenant, 2)
	restore.RestoreFrom = &zakiv1.MoveSource{NodeId: src.id, TransferAddress: flaky}
	dst.s.welcome(t, restore)
	id := dst.waitState(t, tenant, 2, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING).GetContainerId()

	reasons := dst.reasons(tenant)
	prefix := "copy volume of tenant " + tenant + " from node " + src.id + ": "
	if len(reasons) != 2 || !strings.HasPrefix(reasons[0], prefix) || !strings.Contains(reasons[0], "corrupt") ||
		!strings.HasPrefix(reasons[1], prefix) || !strings.Contains(reasons[1], "without its summary") {
		t.Errorf("FAILED reasons %q, want a corrupt copy then a cut-short one, each from %s", reasons, src.id)
	}
	got := volumeTree(t, cli, id, "/tenant-state")
	want := volumeTree(t, cli, holder, "/tenant-state")
	for name := range got {
		if strings.Contains(name, "/stale") {
			t.Errorf("the stale volume's %s survived the restore", name)
		}
		if strings.HasPrefix(name, "tenant-state/moved/") && got[name] != want[name] {
			t.Errorf("%s: %+v, want %+v", name, got[name], want[name])
		}
	}
	if v := metricValue(dst.a.m.restores.WithLabelValues("failed")); v != 2 {
		t.Errorf("failed restores = %v, want 2", v)
	}
	leftovers, _ := filepath.Glob(filepath.Join(os.TempDir(), "zaki-volume+"+dst.id+"+*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %q", leftovers)
	}
	countContainers(t, cli, dst.id, 1) // no loader left
}

// plainPull pulls without TLS and returns the stream's error.
func plainPull(t *testing.T, addr string, req *zakiv1.PullVolumeRequest) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, err := zakiv1.NewTransferServiceClient(conn).PullVolume(context.Background(), req)
	if err != nil {
		return err
	}
	for {
		if _, err := s.Recv(); err != nil {
			return err
		}
	}
}

func startedAt(t *testing.T, cli *client.Client, id string) string {
	t.Helper()
	c, err := cli.ContainerInspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c.State.StartedAt
}
