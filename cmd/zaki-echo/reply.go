package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxAttempts bounds how often one reply is tried.
	maxAttempts = 6
	// firstBackoff doubles after every failed attempt, up to maxBackoff.
	firstBackoff = 200 * time.Millisecond
	maxBackoff   = 5 * time.Second
	// maxRetryAfter caps a 429's retry_after, so shutdown is never held long.
	maxRetryAfter = 30 * time.Second
	// queueSize is how many replies may wait; the webhook blocks beyond it.
	queueSize = 1024
)

// reply is one sendMessage to make.
type reply struct {
	updateID int64
	chatID   int64
	text     string
}

// replier sends replies one at a time, in the order updates arrived, so the
// echoes of one chat stay in order.
type replier struct {
	log    *slog.Logger
	client *http.Client
	url    string // {API_ROOT}/bot{TOKEN}/sendMessage: holds the token, never logged
	// backoff is the first pause between attempts (firstBackoff; tests
	// shorten it).
	backoff time.Duration

	mu     sync.Mutex // guards closed and sends on queue
	closed bool
	queue  chan reply // closed by close(); drained by run

	sent   atomic.Int64
	failed atomic.Int64
}

func newReplier(log *slog.Logger, client *http.Client, apiRoot, token string) *replier {
	return &replier{
		log:     log,
		client:  client,
		url:     apiRoot + "/bot" + token + "/sendMessage",
		backoff: firstBackoff,
		queue:   make(chan reply, queueSize),
	}
}

// enqueue queues r; after close it drops r (the update is already recorded).
func (p *replier) enqueue(r reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.log.Warn("reply dropped: shutting down", "update_id", r.updateID)
		return
	}
	p.queue <- r
}

// close stops taking replies; run returns once the queue is drained.
func (p *replier) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.queue)
	}
}

// run sends queued replies until the queue is closed and drained, or ctx ends.
func (p *replier) run(ctx context.Context) {
	for r := range p.queue {
		if ctx.Err() != nil {
			p.failed.Add(1)
			continue
		}
		if err := p.send(ctx, r); err != nil {
			p.failed.Add(1)
			p.log.Error("reply failed", "update_id", r.updateID, "error", err)
			continue
		}
		p.sent.Add(1)
		p.log.Debug("replied", "update_id", r.updateID)
	}
}

// send tries r up to maxAttempts times. Only failures that say nothing was
// accepted are retried (transport errors, 5xx, 429), so a reply Telegram took
// is never sent twice on purpose.
func (p *replier) send(ctx context.Context, r reply) error {
	body, err := json.Marshal(map[string]any{"chat_id": r.chatID, "text": r.text})
	if err != nil {
		return err
	}
	wait := p.backoff
	var last error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		retry, pause, err := p.post(ctx, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry || attempt == maxAttempts {
			break
		}
		if pause == 0 {
			pause, wait = wait, min(2*wait, maxBackoff)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return last
}

// apiResult is the part of a Bot API answer the echo reads.
type apiResult struct {
	OK          bool   `json:"ok"`
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// post makes one attempt; it says whether to retry and after how long (0
// means the caller's backoff).
func (p *replier) post(ctx context.Context, body []byte) (retry bool, pause time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return false, 0, fmt.Errorf("sendMessage request: bad API root")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		// The URL holds the token: report only the kind of failure.
		return true, 0, fmt.Errorf("sendMessage: %w", stripURL(err))
	}
	defer resp.Body.Close()
	var res apiResult
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res)
	switch {
	case resp.StatusCode == http.StatusOK && res.OK:
		return false, 0, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		ra := min(time.Duration(res.Parameters.RetryAfter)*time.Second, maxRetryAfter)
		return true, ra, fmt.Errorf("sendMessage: 429, retry after %s", ra)
	case resp.StatusCode >= 500:
		return true, 0, fmt.Errorf("sendMessage: %d %s", resp.StatusCode, res.Description)
	default:
		return false, 0, fmt.Errorf("sendMessage: %d %s", resp.StatusCode, res.Description)
	}
}

// stripURL drops the *url.Error wrapper, whose text carries the URL and so
// the token; the inner error names only the address.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
