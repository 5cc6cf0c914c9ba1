package router

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/zaki-platform/zaki/internal/secret"
	"github.com/zaki-platform/zaki/router/update"
)

// maxConnections is what setWebhook asks Telegram for: parallel webhook
// requests, each of which may wait on one container.
const maxConnections = 40

// setWebhook points Telegram at PublicURL, asking for every update type so
// none is silently withheld. Its errors never carry the token.
func (r *Router) setWebhook(ctx context.Context) error {
	body, err := json.Marshal(map[string]any{
		"url":             strings.TrimRight(r.cfg.PublicURL, "/") + WebhookPath,
		"secret_token":    r.cfg.WebhookSecret,
		"allowed_updates": update.Types,
		"max_connections": maxConnections,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	url := r.cfg.TelegramAPIURL + "/bot" + r.cfg.BotToken + "/setWebhook"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return errors.New("setWebhook: bad Telegram API URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), r.cfg.BotToken, secret.Fingerprint(r.cfg.BotToken))
		return fmt.Errorf("setWebhook: %s", msg)
	}
	defer resp.Body.Close()
	var answer struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(raw, &answer); err != nil || !answer.OK {
		return fmt.Errorf("setWebhook refused (%d): %s", resp.StatusCode, answer.Description)
	}
	r.log.Info("webhook registered", "addr", r.cfg.PublicURL+WebhookPath)
	return nil
}
