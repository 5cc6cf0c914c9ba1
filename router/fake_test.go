package router

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/secret"
)

// fakeCP is an in-memory TenantService on loopback, with knobs to break or
// silence its route streams.
type fakeCP struct {
	zakiv1.UnimplementedTenantServiceServer
	addr     string
	progress time.Duration

	mu         sync.Mutex
	bot        int64
	routes     map[string]*zakiv1.Route
	parked     map[string]map[int64][]byte
	subs       map[chan *zakiv1.WatchRoutesResponse]bool
	kill       chan struct{} // closed to fail every open stream
	silent     bool          // streams send their snapshot, then nothing
	down       bool          // WatchRoutes fails at once
	watchCalls int
	ensures    int
	// newRoute fills a route EnsureTenant creates; nil leaves it PENDING.
	newRoute func(r *zakiv1.Route)
	// ensureErr and bindErr, when set, are what EnsureTenant and BindChat
	// answer instead of doing anything.
	ensureErr, bindErr error
	// parkErr, when set, is what ParkUpdate answers instead of parking.
	parkErr error
}

// failWith makes EnsureTenant and BindChat answer ensure and bind.
func (f *fakeCP) failWith(ensure, bind error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensureErr, f.bindErr = ensure, bind
}

func startFakeCP(t *testing.T, progress time.Duration) *fakeCP {
	t.Helper()
	f := &fakeCP{progress: progress, routes: map[string]*zakiv1.Route{},
		parked: map[string]map[int64][]byte{}, subs: map[chan *zakiv1.WatchRoutesResponse]bool{},
		kill: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	zakiv1.RegisterTenantServiceServer(srv, f)
	// Clients check replicas' health (internal/cpdial), as a real control
	// plane serves it.
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	f.addr = ln.Addr().String()
	return f
}

// tenantRoute makes a route for a tenant with fresh secrets.
func tenantRoute(id string, kind zakiv1.TenantKind, chats ...int64) *zakiv1.Route {
	return &zakiv1.Route{TenantId: id, Kind: kind, ChatIds: chats,
		WebhookSecret: secret.New(), BotApiSecret: secret.New(),
		State: zakiv1.PlacementState_PLACEMENT_STATE_PENDING}
}

// setRoute stores r and tells every watcher.
func (f *fakeCP) setRoute(r *zakiv1.Route) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[r.TenantId] = cloneRoute(r)
	f.broadcastLocked(&zakiv1.WatchRoutesResponse{Event: &zakiv1.WatchRoutesResponse_Upsert{Upsert: cloneRoute(r)}})
}

func (f *fakeCP) broadcastLocked(ev *zakiv1.WatchRoutesResponse) {
	for ch := range f.subs {
		select {
		case ch <- ev:
		default: // a stuck watcher misses it; the tests never get there
		}
	}
}

// breakStreams fails every open stream.
func (f *fakeCP) breakStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.kill)
	f.kill = make(chan struct{})
}

func (f *fakeCP) setDown(d bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = d
}

func (f *fakeCP) setSilent(s bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.silent = s
}

func (f *fakeCP) counts() (watches, ensures int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watchCalls, f.ensures
}

func (f *fakeCP) parkedIDs(tenant string) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []int64
	for id := range f.parked[tenant] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (f *fakeCP) SetBot(_ context.Context, req *zakiv1.SetBotRequest) (*zakiv1.SetBotResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bot != 0 && f.bot != req.BotId {
		return nil, status.Error(codes.FailedPrecondition, "another bot")
	}
	f.bot = req.BotId
	return &zakiv1.SetBotResponse{}, nil
}

func (f *fakeCP) tenantOfLocked(chat int64) *zakiv1.Route {
	for _, r := range f.routes {
		if slices.Contains(r.ChatIds, chat) {
			return r
		}
	}
	return nil
}

func (f *fakeCP) EnsureTenant(_ context.Context, req *zakiv1.EnsureTenantRequest) (*zakiv1.EnsureTenantResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensures++
	if f.ensureErr != nil {
		return nil, f.ensureErr
	}
	if r := f.tenantOfLocked(req.ChatId); r != nil {
		return &zakiv1.EnsureTenantResponse{Route: cloneRoute(r)}, nil
	}
	if !req.Create {
		return nil, status.Error(codes.NotFound, "no tenant")
	}
	if req.Kind == zakiv1.TenantKind_TENANT_KIND_GROUP && f.tenantOfLocked(req.OwnerUserId) == nil {
		return nil, status.Error(codes.FailedPrecondition, "owner is not a tenant")
	}
	r := tenantRoute(strconv.FormatInt(req.ChatId, 10), req.Kind, req.ChatId)
	r.OwnerUserId = req.OwnerUserId
	if f.newRoute != nil {
		f.newRoute(r)
	}
	f.routes[r.TenantId] = r
	f.broadcastLocked(&zakiv1.WatchRoutesResponse{Event: &zakiv1.WatchRoutesResponse_Upsert{Upsert: cloneRoute(r)}})
	return &zakiv1.EnsureTenantResponse{Route: cloneRoute(r), Created: true}, nil
}

func (f *fakeCP) BindChat(_ context.Context, req *zakiv1.BindChatRequest) (*zakiv1.BindChatResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bindErr != nil {
		return nil, f.bindErr
	}
	r := f.routes[req.TenantId]
	if r == nil {
		return nil, status.Error(codes.NotFound, "no tenant")
	}
	if !slices.Contains(r.ChatIds, req.ChatId) {
		r.ChatIds = append(r.ChatIds, req.ChatId)
	}
	f.broadcastLocked(&zakiv1.WatchRoutesResponse{Event: &zakiv1.WatchRoutesResponse_Upsert{Upsert: cloneRoute(r)}})
	return &zakiv1.BindChatResponse{Route: cloneRoute(r)}, nil
}

func (f *fakeCP) WatchRoutes(_ *zakiv1.WatchRoutesRequest, stream zakiv1.TenantService_WatchRoutesServer) error {
	ch := make(chan *zakiv1.WatchRoutesResponse, 256)
	f.mu.Lock()
	f.watchCalls++
	if f.down {
		f.mu.Unlock()
		return status.Error(codes.Unavailable, "watch is down")
	}
	snap := &zakiv1.RouteSnapshot{}
	for _, r := range f.routes {
		snap.Routes = append(snap.Routes, cloneRoute(r))
	}
	f.subs[ch] = true
	kill, silent := f.kill, f.silent
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}()
	if err := stream.Send(&zakiv1.WatchRoutesResponse{Event: &zakiv1.WatchRoutesResponse_Snapshot{Snapshot: snap}}); err != nil {
		return err
	}
	tick := time.NewTicker(f.progress)
	defer tick.Stop()
	for {
		var ev *zakiv1.WatchRoutesResponse
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-kill:
			return status.Error(codes.Unavailable, "stream broken by test")
		case ev = <-ch:
		case <-tick.C:
			ev = &zakiv1.WatchRoutesResponse{Event: &zakiv1.WatchRoutesResponse_Progress{Progress: &zakiv1.Progress{}}}
		}
		if silent {
			continue // a silent stream says nothing at all after its snapshot
		}
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
}

func (f *fakeCP) ParkUpdate(_ context.Context, req *zakiv1.ParkUpdateRequest) (*zakiv1.ParkUpdateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.parkErr != nil {
		return nil, f.parkErr
	}
	u := req.Update
	m := f.parked[u.TenantId]
	if m == nil {
		m = map[int64][]byte{}
		f.parked[u.TenantId] = m
	}
	_, dup := m[u.UpdateId]
	m[u.UpdateId] = u.Body
	return &zakiv1.ParkUpdateResponse{Parked: !dup}, nil
}

func (f *fakeCP) ListParked(_ context.Context, req *zakiv1.ListParkedRequest) (*zakiv1.ListParkedResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &zakiv1.ListParkedResponse{}
	if req.TenantId == "" {
		for id, m := range f.parked {
			if len(m) > 0 {
				resp.TenantIds = append(resp.TenantIds, id)
			}
		}
		return resp, nil
	}
	m := f.parked[req.TenantId]
	var ids []int64
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if req.Limit > 0 && len(resp.Updates) >= int(req.Limit) {
			break
		}
		resp.Updates = append(resp.Updates, &zakiv1.ParkedUpdate{TenantId: req.TenantId, UpdateId: id, Body: m[id]})
	}
	return resp, nil
}

func (f *fakeCP) AckParked(_ context.Context, req *zakiv1.AckParkedRequest) (*zakiv1.AckParkedResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range req.UpdateIds {
		delete(f.parked[req.TenantId], id)
	}
	return &zakiv1.AckParkedResponse{}, nil
}
