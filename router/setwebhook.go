package router

import (
	"context"
	"strings"

	"github.com/zaki-platform/zaki/router/update"
)

// maxConnections is what setWebhook asks Telegram for: parallel webhook
// requests, each of which may wait on one container.
const maxConnections = 40

// setWebhook points Telegram at PublicURL, asking for every update type so
// none is silently withheld. Its errors never carry the token.
func (r *Router) setWebhook(ctx context.Context) error {
	err := r.callTelegram(ctx, "setWebhook", map[string]any{
		"url":             r.webhookURL(),
		"secret_token":    r.cfg.WebhookSecret,
		"allowed_updates": update.Types,
		"max_connections": maxConnections,
	}, nil)
	if err != nil {
		return err
	}
	r.log.Info("webhook registered", "addr", r.webhookURL())
	return nil
}

// webhookURL is the address Telegram is told to post updates to.
func (r *Router) webhookURL() string { return strings.TrimRight(r.cfg.PublicURL, "/") + WebhookPath }
