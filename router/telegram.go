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
)

// telegramCallTimeout bounds one call the router makes to the Bot API for
// itself (not for a container).
const telegramCallTimeout = 30 * time.Second

// callTelegram calls the Bot API method with params as JSON and decodes its
// result into result (when not nil). Its errors never carry the token.
func (r *Router) callTelegram(ctx context.Context, method string, params, result any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, telegramCallTimeout)
	defer cancel()
	url := r.cfg.TelegramAPIURL + "/bot" + r.cfg.BotToken + "/" + method
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: bad Telegram API URL", method)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), r.cfg.BotToken, secret.Fingerprint(r.cfg.BotToken))
		return fmt.Errorf("%s: %s", method, msg)
	}
	defer resp.Body.Close()
	var answer struct {
		OK          bool            `json:"ok"`
		Description string          `json:"description"`
		Result      json.RawMessage `json:"result"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(raw, &answer); err != nil || !answer.OK {
		return fmt.Errorf("%s refused (%d): %s", method, resp.StatusCode, answer.Description)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(answer.Result, result); err != nil {
		return errors.Join(fmt.Errorf("%s: unexpected result", method), err)
	}
	return nil
}
