package tgstandin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Play posts each update to webhookURL in order, as Telegram does: JSON body,
// the secret in X-Telegram-Bot-Api-Secret-Token. It returns the status code
// of every update posted; on a transport error it stops and returns the
// codes so far with the error. A non-2xx answer is not an error here (the
// caller decides), and nothing is retried.
func Play(ctx context.Context, webhookURL, secret string, updates [][]byte) ([]int, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	codes := make([]int, 0, len(updates))
	for i, u := range updates {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(u))
		if err != nil {
			return codes, fmt.Errorf("update %d: %w", i, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		resp, err := client.Do(req)
		if err != nil {
			return codes, fmt.Errorf("update %d: %w", i, err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	return codes, nil
}
