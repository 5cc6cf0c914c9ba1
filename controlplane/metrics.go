package controlplane

import "github.com/prometheus/client_golang/prometheus"

// metrics are the control plane's Prometheus series.
type metrics struct {
	sessions           prometheus.Gauge
	tenantsCreated     prometheus.Counter
	placementsSched    prometheus.Counter
	schedulingFailures *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zaki_controlplane_agent_sessions",
			Help: "Agent sessions currently open.",
		}),
		tenantsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zaki_controlplane_tenants_created_total",
			Help: "Tenants created.",
		}),
		placementsSched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zaki_controlplane_placements_scheduled_total",
			Help: "Placements assigned to a node.",
		}),
		schedulingFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zaki_controlplane_scheduling_failures_total",
			Help: "Attempts to place a tenant that found no node, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.sessions, m.tenantsCreated, m.placementsSched, m.schedulingFailures)
	for _, r := range []string{reasonUnknownProfile, reasonUnknownTier, reasonNoNodes, reasonNoRoom} {
		m.schedulingFailures.WithLabelValues(r)
	}
	return m
}
