package router

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the router's Prometheus series, all prefixed zaki_router_.
type metrics struct {
	received       *prometheus.CounterVec // by type
	forwarded      prometheus.Counter
	parked         prometheus.Counter
	unroutable     *prometheus.CounterVec // by reason
	rejected       *prometheus.CounterVec // by reason
	unknownType    prometheus.Counter
	forwardSeconds prometheus.Histogram
	botAPICalls    *prometheus.CounterVec // by method, code
	routes         prometheus.Gauge
	routesAge      prometheus.GaugeFunc
	// From getWebhookInfo (webhookinfo.go), when this router registered it.
	telegramPending   prometheus.Gauge
	telegramLastError prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, cacheAge func() float64) *metrics {
	const ns = "zaki_router"
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "updates_received_total", Help: "Webhook updates accepted for routing, by type."}, []string{"type"}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns,
			Name: "updates_forwarded_total", Help: "Updates a container answered 2xx."}),
		parked: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns,
			Name: "updates_parked_total", Help: "Updates parked through the control plane."}),
		unroutable: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "updates_unroutable_total", Help: "Updates answered 2xx and delivered nowhere, by reason."}, []string{"reason"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "updates_rejected_total", Help: "Webhook requests refused, by reason."}, []string{"reason"}),
		unknownType: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns,
			Name: "updates_unknown_type_total", Help: "Updates of a type this router does not know."}),
		forwardSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns,
			Name: "forward_duration_seconds", Help: "Time to forward one update to a container.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}),
		botAPICalls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "botapi_calls_total", Help: "Bot API front calls, by method and HTTP status."}, []string{"method", "code"}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns,
			Name: "route_cache_size", Help: "Routes in the cache."}),
		routesAge: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns,
			Name: "route_cache_age_seconds", Help: "Seconds since the route cache last heard from the control plane."}, cacheAge),
		telegramPending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns,
			Name: "telegram_pending_updates", Help: "Updates Telegram holds for the webhook (getWebhookInfo)."}),
		telegramLastError: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns,
			Name: "telegram_last_error_timestamp_seconds", Help: "When Telegram last failed to deliver to the webhook (getWebhookInfo); 0 for never."}),
	}
	reg.MustRegister(m.received, m.forwarded, m.parked, m.unroutable, m.rejected,
		m.unknownType, m.forwardSeconds, m.botAPICalls, m.routes, m.routesAge,
		m.telegramPending, m.telegramLastError)
	return m
}
