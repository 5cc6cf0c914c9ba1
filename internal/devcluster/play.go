package devcluster

import (
	"context"
	"fmt"

	"github.com/zaki-platform/zaki/internal/samples"
	"github.com/zaki-platform/zaki/internal/tgstandin"
)

// PlaySamples posts the sample conversation through the real webhook path, in
// order, and returns the HTTP status of each update. It needs the stand-in.
func (c *Cluster) PlaySamples(ctx context.Context) ([]int, error) {
	if c.Standin == nil {
		return nil, fmt.Errorf("the sample conversation is played only against the local Telegram stand-in, not a real bot")
	}
	return tgstandin.Play(ctx, c.WebhookURL, c.WebhookSecret, samples.Updates())
}

// ChatNames maps each chat of the sample conversation to a readable name.
func ChatNames() map[int64]string { return samples.ChatNames() }
