package router

import (
	"context"
	"time"

	"github.com/zaki-platform/zaki/internal/every"
)

// webhookInfoPeriod is how often the router asks Telegram how its webhook
// fares (getWebhookInfo): the only place Telegram says it cannot deliver.
const webhookInfoPeriod = time.Minute

// webhookInfo is the part of Telegram's WebhookInfo the router watches.
type webhookInfo struct {
	URL                string `json:"url"`
	PendingUpdateCount int64  `json:"pending_update_count"`
	LastErrorDate      int64  `json:"last_error_date"`
	LastErrorMessage   string `json:"last_error_message"`
	MaxConnections     int64  `json:"max_connections"`
}

// watchWebhookInfo checks the webhook now and every webhookInfoPeriod until
// ctx ends. Only a router that registered the webhook (PublicURL) runs it.
func (r *Router) watchWebhookInfo(ctx context.Context) {
	var last webhookInfo
	check := func(ctx context.Context) {
		info, err := r.webhookInfo(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("asking Telegram how the webhook fares", "error", err)
			}
			return
		}
		r.noteWebhookInfo(info, last)
		last = info
	}
	check(ctx)
	every.Run(ctx, webhookInfoPeriod, check)
}

func (r *Router) webhookInfo(ctx context.Context) (webhookInfo, error) {
	var info webhookInfo
	err := r.callTelegram(ctx, "getWebhookInfo", map[string]any{}, &info)
	return info, err
}

// noteWebhookInfo publishes info as metrics and logs what changed since
// last: a new delivery error, or a webhook pointing somewhere else (another
// router or tool registered its own, and updates no longer come here).
func (r *Router) noteWebhookInfo(info, last webhookInfo) {
	r.m.telegramPending.Set(float64(info.PendingUpdateCount))
	r.m.telegramLastError.Set(float64(info.LastErrorDate))
	if info.URL != r.webhookURL() && info.URL != last.URL {
		r.log.Warn("Telegram's webhook points elsewhere: updates do not come to this router",
			"webhook", info.URL, "want", r.webhookURL())
	}
	if info.LastErrorDate != 0 && info.LastErrorDate != last.LastErrorDate {
		r.log.Warn("Telegram could not deliver to the webhook", "error", info.LastErrorMessage,
			"at", time.Unix(info.LastErrorDate, 0).UTC().Format(time.RFC3339),
			"pending", info.PendingUpdateCount)
	}
}
