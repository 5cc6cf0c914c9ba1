package devcluster

import (
	"context"
	"encoding/json"
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

// ChatNames maps each chat of the sample conversation to a readable name (a
// person's first name or a group's title), for printing replies.
func ChatNames() map[int64]string {
	names := map[int64]string{}
	for _, body := range samples.Updates() {
		var u map[string]json.RawMessage
		if json.Unmarshal(body, &u) != nil {
			continue
		}
		for _, v := range u {
			var obj struct {
				Chat *struct {
					ID        int64  `json:"id"`
					FirstName string `json:"first_name"`
					Title     string `json:"title"`
				} `json:"chat"`
			}
			if json.Unmarshal(v, &obj) != nil || obj.Chat == nil {
				continue
			}
			name := obj.Chat.FirstName
			if obj.Chat.Title != "" {
				name = obj.Chat.Title
			}
			names[obj.Chat.ID] = name
		}
	}
	return names
}
