package router

import (
	"crypto/subtle"
	"errors"
	"io"
	"net/http"

	"github.com/zaki-platform/zaki/router/update"
)

// serveWebhook takes one update from Telegram. It answers 200 only once the
// update is durably held (the container answered 2xx, or it is parked) or
// will be delivered nowhere by design (unknown type, unroutable); 503 makes
// Telegram retry.
func (r *Router) serveWebhook(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		r.reject(w, "method", http.StatusMethodNotAllowed)
		return
	}
	got := req.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if subtle.ConstantTimeCompare([]byte(got), []byte(r.cfg.WebhookSecret)) != 1 {
		r.reject(w, "secret", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		r.reject(w, "too_large", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		r.reject(w, "read", http.StatusBadRequest)
		return
	}
	d, err := update.Parse(body)
	if err != nil {
		r.reject(w, "malformed", http.StatusBadRequest)
		return
	}
	r.route(w, req, d, body)
}

func (r *Router) route(w http.ResponseWriter, req *http.Request, d update.Decision, body []byte) {
	typ := d.Type
	if d.Action == update.Unknown {
		typ = "unknown"
	}
	r.m.received.WithLabelValues(typ).Inc()
	switch d.Action {
	case update.Unknown:
		r.m.unknownType.Inc()
		r.log.Debug("unknown update type", "update_id", d.UpdateID)
		w.WriteHeader(http.StatusOK)
		return
	case update.Unroutable:
		r.unroutable(w, d, d.Reason)
		return
	}
	route, reason, err := r.resolver.resolve(req.Context(), d)
	switch {
	case err != nil:
		r.log.Warn("resolve failed", "update_id", d.UpdateID, "error", err)
		http.Error(w, "tenant lookup failed", http.StatusServiceUnavailable)
		return
	case route == nil:
		r.unroutable(w, d, reason)
		return
	}
	if err := r.delivery.deliver(req.Context(), route, d.UpdateID, body); err != nil {
		r.log.Warn("update not held", "tenant", route.GetTenantId(), "update_id", d.UpdateID, "error", err)
		http.Error(w, "update not held", http.StatusServiceUnavailable)
		return
	}
	r.log.Debug("update held", "tenant", route.GetTenantId(), "update_id", d.UpdateID)
	w.WriteHeader(http.StatusOK)
}

func (r *Router) unroutable(w http.ResponseWriter, d update.Decision, reason string) {
	r.m.unroutable.WithLabelValues(reason).Inc()
	r.log.Debug("update unroutable", "update_id", d.UpdateID, "reason", reason)
	w.WriteHeader(http.StatusOK)
}

func (r *Router) reject(w http.ResponseWriter, reason string, code int) {
	r.m.rejected.WithLabelValues(reason).Inc()
	http.Error(w, http.StatusText(code), code)
}
