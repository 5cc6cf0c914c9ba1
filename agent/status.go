package agent

import (
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// metrics are the agent's Prometheus series.
type metrics struct {
	containers    *prometheus.GaugeVec
	starts        prometheus.Counter
	startFailures prometheus.Counter
	reconnects    prometheus.Counter
	// Moves: bytes of volumes pulled (as a target) and served (as a
	// source), restores by result (ok, failed), pulls served by result
	// (ok, refused, busy, failed).
	bytesPulled prometheus.Counter
	bytesServed prometheus.Counter
	restores    *prometheus.CounterVec
	pullsServed *prometheus.CounterVec
	// discards counts moved tenants' leftovers removed (ok: once per
	// discard, not per resync pass) and failed attempts (failed).
	discards *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		containers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "zaki_agent_containers",
			Help: "Tenant containers on this node by last reported state.",
		}, []string{"state"}),
		starts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zaki_agent_container_starts_total",
			Help: "Tenant containers started (created or restarted) by the agent.",
		}),
		startFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zaki_agent_container_start_failures_total",
			Help: "Attempts to bring a tenant container to ready that failed.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zaki_agent_session_reconnects_total",
			Help: "Sessions with the control plane rebuilt after one ended.",
		}),
		bytesPulled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zaki_agent_volume_bytes_pulled_total",
			Help: "Bytes of tenant volumes received from other nodes for moves.",
		}),
		bytesServed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zaki_agent_volume_bytes_served_total",
			Help: "Bytes of tenant volumes sent to other nodes for moves.",
		}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zaki_agent_volume_restores_total",
			Help: "Attempts to copy a moving tenant's volume onto this node, by result (ok, failed).",
		}, []string{"result"}),
		pullsServed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zaki_agent_volume_pulls_served_total",
			Help: "Volume pulls from other nodes, by result (ok, refused, busy, failed).",
		}, []string{"result"}),
		discards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zaki_agent_discards_total",
			Help: "Moved tenants' leftovers (containers, network, volume) removed from this node, by result (ok, failed).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.containers, m.starts, m.startFailures, m.reconnects,
		m.bytesPulled, m.bytesServed, m.restores, m.pullsServed, m.discards} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// board holds the latest status of every tenant on the node, and which of
// them the control plane has not heard yet. Workers write it; the session
// drains it.
type board struct {
	gauge *prometheus.GaugeVec
	// notify has room for one signal: "something is dirty". Never closed.
	notify chan struct{}

	mu     sync.Mutex // guards the fields below
	latest map[string]*zakiv1.ContainerStatus
	dirty  map[string]bool
}

func newBoard(gauge *prometheus.GaugeVec) *board {
	return &board{
		gauge:  gauge,
		notify: make(chan struct{}, 1),
		latest: map[string]*zakiv1.ContainerStatus{},
		dirty:  map[string]bool{},
	}
}

// set records st as its tenant's latest status, to be sent.
func (b *board) set(st *zakiv1.ContainerStatus) {
	b.mu.Lock()
	b.latest[st.GetTenantId()] = st
	b.dirty[st.GetTenantId()] = true
	b.recountLocked()
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// drop forgets a tenant that no longer runs here.
func (b *board) drop(tenant string) {
	b.mu.Lock()
	delete(b.latest, tenant)
	delete(b.dirty, tenant)
	b.recountLocked()
	b.mu.Unlock()
}

// get returns a tenant's latest status, or nil.
func (b *board) get(tenant string) *zakiv1.ContainerStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latest[tenant]
}

// takeDirty returns the statuses not sent yet, sorted by tenant, and marks
// them sent.
func (b *board) takeDirty() []*zakiv1.ContainerStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*zakiv1.ContainerStatus, 0, len(b.dirty))
	for t := range b.dirty {
		out = append(out, proto.Clone(b.latest[t]).(*zakiv1.ContainerStatus))
	}
	clear(b.dirty)
	sort.Slice(out, func(i, j int) bool { return out[i].GetTenantId() < out[j].GetTenantId() })
	return out
}

// markAllDirty makes the next takeDirty return every status: a new session
// must hear everything, since the last one may have lost messages in flight.
func (b *board) markAllDirty() {
	b.mu.Lock()
	for t := range b.latest {
		b.dirty[t] = true
	}
	b.mu.Unlock()
}

// markDirty makes the next takeDirty return tenant's status again, if it
// has one.
func (b *board) markDirty(tenant string) {
	b.mu.Lock()
	if b.latest[tenant] != nil {
		b.dirty[tenant] = true
	}
	b.mu.Unlock()
}

func (b *board) recountLocked() {
	counts := map[string]float64{}
	for _, st := range b.latest {
		counts[stateName(st.GetState())]++
	}
	for _, s := range []zakiv1.PlacementState{
		zakiv1.PlacementState_PLACEMENT_STATE_STARTING,
		zakiv1.PlacementState_PLACEMENT_STATE_RUNNING,
		zakiv1.PlacementState_PLACEMENT_STATE_FAILED,
		zakiv1.PlacementState_PLACEMENT_STATE_STOPPED,
	} {
		b.gauge.WithLabelValues(stateName(s)).Set(counts[stateName(s)])
	}
}

// stateName is "running" for PLACEMENT_STATE_RUNNING.
func stateName(s zakiv1.PlacementState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "PLACEMENT_STATE_"))
}
