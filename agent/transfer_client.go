package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cenkalti/backoff/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

const (
	// transferIdle ends a pull that received nothing for this long: a
	// source whose engine hangs would otherwise hold the move forever.
	transferIdle = 2 * time.Minute
	// busyWait is how long a pull waits out a source serving its
	// maximum of other pulls before the attempt fails.
	busyWait = 5 * time.Minute
	// transferKeepalive pings an idle transfer connection, so a source
	// that vanished is noticed; the server permits it (transfer_server.go).
	transferKeepalive = 30 * time.Second
)

// pullVolume fetches the tenant's volume from want's move source into a new
// temporary file, checked against the source's summary. The caller closes
// and removes the file. Files a crashed attempt left are removed first.
func (w *worker) pullVolume(ctx context.Context, want *zakiv1.Assignment) (*os.File, int64, error) {
	src := want.GetRestoreFrom()
	if src.GetTransferAddress() == "" {
		return nil, 0, fmt.Errorf("node %s serves no volumes (it reported no transfer address): "+
			"run its agent with --transfer-listen", src.GetNodeId())
	}
	conn, err := grpc.NewClient(src.GetTransferAddress(),
		grpc.WithTransportCredentials(w.a.transferClientCreds(src.GetNodeId())),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: transferKeepalive, Timeout: 20 * time.Second}))
	if err != nil {
		return nil, 0, fmt.Errorf("dial %s: %w", src.GetTransferAddress(), err)
	}
	defer conn.Close()
	f, err := w.a.transferFile(w.tenant)
	if err != nil {
		return nil, 0, err
	}
	req := &zakiv1.PullVolumeRequest{TenantId: w.tenant, Generation: want.GetGeneration()}
	cli := zakiv1.NewTransferServiceClient(conn)
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 250*time.Millisecond, 5*time.Second
	n, err := backoff.Retry(ctx, func() (int64, error) {
		n, err := w.pullOnce(ctx, cli, req, f)
		if status.Code(err) == codes.ResourceExhausted {
			w.report(want, zakiv1.PlacementState_PLACEMENT_STATE_STARTING,
				"waiting for node "+src.GetNodeId()+" to serve the volume: it is serving other moves", "")
			return 0, err
		}
		if err != nil {
			return 0, backoff.Permanent(err)
		}
		return n, nil
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(busyWait))
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	return f, n, nil
}

// pullOnce makes one PullVolume call, writing from the start of f.
func (w *worker) pullOnce(ctx context.Context, cli zakiv1.TransferServiceClient,
	req *zakiv1.PullVolumeRequest, f *os.File) (int64, error) {
	if err := f.Truncate(0); err != nil {
		return 0, fmt.Errorf("reset %s: %w", f.Name(), err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("reset %s: %w", f.Name(), err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(transferIdle, func() { cancel(errIdle) })
	defer idle.Stop()
	stream, err := cli.PullVolume(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("pull: %w", err)
	}
	recv := func() (*zakiv1.PullVolumeResponse, error) {
		m, err := stream.Recv()
		idle.Reset(transferIdle)
		return m, err
	}
	n, err := receiveVolume(recv, f, w.a.m.bytesPulled.Add)
	if err != nil && errors.Is(context.Cause(ctx), errIdle) {
		return n, fmt.Errorf("pull: %w after %d bytes", errIdle, n)
	}
	return n, err
}

// errIdle ends a pull that stalled.
var errIdle = fmt.Errorf("nothing received for %s", transferIdle)

// receiveVolume writes the data parts of a pull to w and checks them
// against the summary that must end the stream: a stream that ends without
// it, disagrees with it, or goes on after it is an error. counted is told
// of every byte written.
func receiveVolume(recv func() (*zakiv1.PullVolumeResponse, error), w io.Writer, counted func(float64)) (int64, error) {
	h := sha256.New()
	var n int64
	for {
		msg, err := recv()
		if errors.Is(err, io.EOF) {
			return n, fmt.Errorf("the stream ended after %d bytes without its summary: the copy is incomplete", n)
		}
		if err != nil {
			return n, fmt.Errorf("pull after %d bytes: %w", n, err)
		}
		switch part := msg.GetPart().(type) {
		case *zakiv1.PullVolumeResponse_Data:
			if _, err := w.Write(part.Data); err != nil {
				return n, fmt.Errorf("write the copy: %w", err)
			}
			h.Write(part.Data)
			n += int64(len(part.Data))
			counted(float64(len(part.Data)))
		case *zakiv1.PullVolumeResponse_Done:
			if err := checkSummary(part.Done, n, hex.EncodeToString(h.Sum(nil))); err != nil {
				return n, err
			}
			if _, err := recv(); !errors.Is(err, io.EOF) {
				return n, fmt.Errorf("the stream went on after its summary (%v): the copy is not trusted", err)
			}
			return n, nil
		default:
			return n, fmt.Errorf("pull after %d bytes: a message with no part (a newer source?)", n)
		}
	}
}

// checkSummary compares what was received with the source's summary.
func checkSummary(s *zakiv1.VolumeSummary, n int64, sum string) error {
	if s.GetBytes() != uint64(n) {
		return fmt.Errorf("checksum: received %d bytes, the source sent %d", n, s.GetBytes())
	}
	if s.GetSha256() != sum {
		return fmt.Errorf("checksum: sha256 of what was received is %.12s…, the source's is %.12s…: the copy is corrupt",
			sum, s.GetSha256())
	}
	return nil
}

// transferClientCreds is mutual TLS to node's TransferService with this
// node's credentials; plaintext without them (tests only).
func (a *Agent) transferClientCreds(node string) credentials.TransportCredentials {
	if a.bundle == nil {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(transferClientTLS(a.bundle, node, time.Now))
}

// transferFile is a new temporary file for one tenant's pull, in StateDir's
// transfers directory (or the system's temporary directory without a
// StateDir), after removing what earlier attempts for the tenant left.
func (a *Agent) transferFile(tenant string) (*os.File, error) {
	dir := os.TempDir()
	if a.cfg.StateDir != "" {
		dir = filepath.Join(a.cfg.StateDir, "transfers")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("make the transfer directory: %w", err)
		}
	}
	// '+' appears in no node or tenant id, so one tenant's pattern never
	// matches another's files.
	prefix := "zaki-volume+" + a.cfg.NodeID + "+" + tenant + "+"
	stale, _ := filepath.Glob(filepath.Join(dir, prefix+"*.tar"))
	for _, name := range stale {
		_ = os.Remove(name)
	}
	f, err := os.CreateTemp(dir, prefix+"*.tar")
	if err != nil {
		return nil, fmt.Errorf("make a temporary file for the copy: %w", err)
	}
	return f, nil
}
