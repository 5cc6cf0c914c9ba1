package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
)

const (
	// chunkSize is the data in one PullVolumeResponse.
	chunkSize = 256 << 10
	// maxPulls bounds the pulls one agent serves at once: each reads a
	// volume through the engine and fills the network.
	maxPulls = 2
)

// transferServer serves a stopped tenant's volume to its move's target.
type transferServer struct {
	zakiv1.UnimplementedTransferServiceServer
	a *Agent
	// slots holds one token per pull being served; a pull that finds it
	// full is refused, never queued.
	slots chan struct{}
}

var _ zakiv1.TransferServiceServer = (*transferServer)(nil)

// serveTransfer starts the TransferService on cfg.TransferListen (none when
// empty) until ctx ends, and sets the address reported to the control plane.
func (a *Agent) serveTransfer(ctx context.Context) error {
	if a.cfg.TransferListen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.TransferListen)
	if err != nil {
		return fmt.Errorf("listen for volume transfers: %w (free the address, or pick another with --transfer-listen)", err)
	}
	a.transferAddr = advertiseAddr(ln.Addr().String(), a.cfg.TransferAdvertise, a.cfg.Address)
	opts := []grpc.ServerOption{grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
		MinTime: transferKeepalive / 2, PermitWithoutStream: true})}
	if a.bundle != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(transferServerTLS(a.bundle))))
	}
	srv := grpc.NewServer(opts...)
	a.transfer = &transferServer{a: a, slots: make(chan struct{}, maxPulls)}
	zakiv1.RegisterTransferServiceServer(srv, a.transfer)
	a.workers.Add(2)
	go func() {
		defer a.workers.Done()
		if err := srv.Serve(ln); err != nil {
			a.log.Error("volume transfer server stopped", "addr", ln.Addr().String(), "error", err)
		}
	}()
	go func() {
		defer a.workers.Done()
		<-ctx.Done()
		// Pulls in flight end; their targets start over later.
		srv.Stop()
	}()
	a.log.Info("serving volume transfers", "addr", ln.Addr().String(), "advertise", a.transferAddr)
	return nil
}

// advertiseAddr is the TransferService address other agents dial: the
// configured one, else the bound one with the node's address in place of an
// unspecified host.
func advertiseAddr(bound, advertise, address string) string {
	if advertise != "" {
		return advertise
	}
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = address
	}
	return net.JoinHostPort(host, port)
}

// PullVolume streams the volume of a tenant this node holds stopped for a
// move to the node the move names, then its summary.
func (s *transferServer) PullVolume(req *zakiv1.PullVolumeRequest,
	stream grpc.ServerStreamingServer[zakiv1.PullVolumeResponse]) error {
	a := s.a
	caller, err := callerIdentity(stream.Context(), a.bundle != nil)
	if err != nil {
		return err
	}
	want, held := a.heldWant(req.GetTenantId())
	if err := checkPull(a.cfg.NodeID, req, want, caller); err != nil {
		a.m.pullsServed.WithLabelValues("refused").Inc()
		a.log.Info("volume pull refused", "tenant", req.GetTenantId(), "generation", req.GetGeneration(),
			"caller", who(caller), "error", err)
		return err
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		a.m.pullsServed.WithLabelValues("busy").Inc()
		return status.Errorf(codes.ResourceExhausted,
			"node %s is serving %d volumes already; retry shortly", a.cfg.NodeID, maxPulls)
	}
	// Derived from held, so that the want moving on ends it synchronously,
	// before the worker can start the container; the caller leaving ends
	// it too.
	ctx, cancel := context.WithCancel(held)
	defer cancel()
	defer context.AfterFunc(stream.Context(), cancel)()

	start := time.Now()
	n, err := a.serveVolume(ctx, want, stream.Send)
	log := a.log.With("tenant", req.GetTenantId(), "to_node", want.GetMoveToNodeId(),
		"generation", req.GetGeneration(), "bytes", n)
	if err != nil {
		a.m.pullsServed.WithLabelValues("failed").Inc()
		if held.Err() != nil {
			err = status.Errorf(codes.Aborted, "node %s no longer holds tenant %s stopped: the move was called off",
				a.cfg.NodeID, req.GetTenantId())
		}
		log.Warn("volume pull failed", "error", err)
		return pullStatus(err)
	}
	a.m.pullsServed.WithLabelValues("ok").Inc()
	log.Info("volume served", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// checkPull says why a pull may not be served, as a gRPC status, or nil.
// caller is nil without TLS (tests against in-process fakes).
func checkPull(node string, req *zakiv1.PullVolumeRequest, want *zakiv1.Assignment, caller *pki.Identity) error {
	tenant, gen := req.GetTenantId(), req.GetGeneration()
	switch {
	case !tenantIDPattern.MatchString(tenant) || gen == 0:
		return status.Errorf(codes.InvalidArgument, "pull needs a valid tenant id and a generation, got %q at %d", tenant, gen)
	case caller != nil && caller.Role != pki.RoleAgent:
		return status.Errorf(codes.PermissionDenied, "only agents pull volumes, not %s", caller)
	case want == nil:
		return status.Errorf(codes.FailedPrecondition, "tenant %s is not assigned to node %s", tenant, node)
	case want.GetDiscard():
		return status.Errorf(codes.FailedPrecondition,
			"node %s discards tenant %s: it moved away, and its data here is removed", node, tenant)
	case !want.GetStopped():
		return status.Errorf(codes.FailedPrecondition,
			"node %s does not hold tenant %s stopped for a move (generation %d runs here)", node, tenant, want.GetGeneration())
	case want.GetGeneration() != gen:
		return status.Errorf(codes.FailedPrecondition,
			"node %s holds tenant %s stopped at generation %d, not %d", node, tenant, want.GetGeneration(), gen)
	case caller != nil && caller.ID != want.GetMoveToNodeId():
		return status.Errorf(codes.PermissionDenied,
			"tenant %s is moving from node %s to node %q, not to %s", tenant, node, want.GetMoveToNodeId(), caller)
	}
	return nil
}

// callerIdentity is who the TLS peer's verified certificate names; nil
// when the server runs without TLS.
func callerIdentity(ctx context.Context, withTLS bool) (*pki.Identity, error) {
	if !withTLS {
		return nil, nil
	}
	p, _ := peer.FromContext(ctx)
	var info credentials.TLSInfo
	if p != nil {
		info, _ = p.AuthInfo.(credentials.TLSInfo)
	}
	if len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil, status.Error(codes.Unauthenticated, "pulling a volume needs a node certificate of this cluster")
	}
	id, err := pki.IdentityOf(info.State.VerifiedChains[0][0])
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "the caller's certificate: %v", err)
	}
	return &id, nil
}

// who names a caller for logs.
func who(caller *pki.Identity) string {
	if caller == nil {
		return "unauthenticated (no TLS)"
	}
	return caller.String()
}

// serveVolume sends the volume of want's tenant, read through its stopped
// container, and returns the bytes sent.
func (a *Agent) serveVolume(ctx context.Context, want *zakiv1.Assignment,
	send func(*zakiv1.PullVolumeResponse) error) (int64, error) {
	p, err := a.lookup(want.GetProfile())
	if err != nil {
		return 0, err
	}
	found, err := a.eng.observe(ctx, want.GetTenantId())
	if err != nil {
		return 0, err
	}
	id, err := pickStopped(a.cfg.NodeID, want.GetTenantId(), found)
	if err != nil {
		return 0, err
	}
	rc, err := a.eng.readVolume(ctx, id, p.VolumePath)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return sendVolume(ctx, rc, send, a.m.bytesServed.Add)
}

// pickStopped is the container to read a held tenant's volume through: none
// may be running, and one must exist.
func pickStopped(node, tenant string, found []observed) (string, error) {
	id, gen := "", uint64(0)
	for _, c := range found {
		switch {
		case c.State == "running" || c.State == "restarting" || c.State == "paused":
			return "", status.Errorf(codes.FailedPrecondition,
				"tenant %s's container on node %s is still %s; retry once it is stopped", tenant, node, c.State)
		case (c.State == "exited" || c.State == "created") && (id == "" || c.Generation > gen):
			id, gen = c.ID, c.Generation
		}
	}
	if id == "" {
		return "", status.Errorf(codes.FailedPrecondition,
			"node %s has no stopped container of tenant %s yet; retry once it reported STOPPED", node, tenant)
	}
	return id, nil
}

// sendVolume streams r in chunks, then the summary of what was sent; once
// ctx ends, nothing more is sent. counted is told of every byte sent.
func sendVolume(ctx context.Context, r io.Reader, send func(*zakiv1.PullVolumeResponse) error,
	counted func(float64)) (int64, error) {
	h := sha256.New()
	buf := make([]byte, chunkSize)
	var n int64
	for {
		k, rerr := io.ReadFull(r, buf)
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if k > 0 {
			h.Write(buf[:k])
			// Send marshals before it returns, so buf is free again after.
			if err := send(&zakiv1.PullVolumeResponse{Part: &zakiv1.PullVolumeResponse_Data{Data: buf[:k]}}); err != nil {
				return n, fmt.Errorf("send after %d bytes: %w", n, err)
			}
			n += int64(k)
			counted(float64(k))
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return n, fmt.Errorf("read the volume after %d bytes: %w", n, rerr)
		}
	}
	sum := &zakiv1.VolumeSummary{Bytes: uint64(n), Sha256: hex.EncodeToString(h.Sum(nil))}
	if err := send(&zakiv1.PullVolumeResponse{Part: &zakiv1.PullVolumeResponse_Done{Done: sum}}); err != nil {
		return n, fmt.Errorf("send the summary: %w", err)
	}
	return n, nil
}

// pullStatus turns a serving error into a gRPC status; statuses and
// context errors pass through.
func pullStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Errorf(codes.Unavailable, "serve the volume: %v", err)
}
