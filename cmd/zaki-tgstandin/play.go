package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zaki-platform/zaki/internal/samples"
	"github.com/zaki-platform/zaki/internal/tgstandin"
)

// pollEvery is how often play reads the stand-in's recorded calls.
const pollEvery = 500 * time.Millisecond

type playCmd struct {
	Webhook       string        `name:"webhook" env:"ZAKI_WEBHOOK_URL" default:"http://127.0.0.1:8443/telegram/webhook" help:"The router's Telegram webhook (default: ${default})."`
	WebhookSecret string        `name:"webhook-secret" env:"ZAKI_WEBHOOK_SECRET" required:"" help:"The secret the router expects in X-Telegram-Bot-Api-Secret-Token. Prefer the environment variable (required, no default)."`
	Standin       string        `name:"standin" env:"ZAKI_STANDIN_URL" default:"http://127.0.0.1:8081" help:"Base URL of the stand-in whose recorded replies are printed (default: ${default})."`
	Wait          time.Duration `name:"wait" env:"ZAKI_PLAY_WAIT" default:"90s" help:"Longest wait for the replies; new containers take a few seconds to start (default: ${default})."`
	Quiet         time.Duration `name:"quiet" env:"ZAKI_PLAY_QUIET" default:"10s" help:"Stop waiting once replies came and then none for this long (default: ${default})."`
}

func (p *playCmd) Run(ctx context.Context) error {
	updates := samples.Updates()
	codes, err := tgstandin.Play(ctx, p.Webhook, p.WebhookSecret, updates)
	if err != nil {
		return fmt.Errorf("posting the sample conversation to %s: %w (is the router up? try `fleet.sh status`)",
			p.Webhook, err)
	}
	var refused []string
	for i, code := range codes {
		if code/100 != 2 {
			refused = append(refused, fmt.Sprintf("update %d: %d", i+1, code))
		}
	}
	fmt.Printf("posted %d sample updates to %s: %d accepted\n", len(codes), p.Webhook, len(codes)-len(refused))
	if len(refused) > 0 {
		return fmt.Errorf("the router refused %s (401: the webhook secret is not the router's)",
			strings.Join(refused, ", "))
	}
	fmt.Println("(the echo assistant answers text messages only: edits, buttons, reactions and the block reach")
	fmt.Println(" their person's container without a reply; the forum nobody added the bot to is unroutable)")
	got, err := p.waitForReplies(ctx, expectedReplies(updates))
	printReplies(got)
	return err
}

// waitForReplies polls the stand-in until every expected reply is recorded,
// or replies stopped coming for Quiet, or Wait passed. It returns the
// replies recorded, in order.
func (p *playCmd) waitForReplies(ctx context.Context, want map[int64]map[string]bool) ([]call, error) {
	ctx, cancel := context.WithTimeout(ctx, p.Wait)
	defer cancel()
	total := 0
	for _, texts := range want {
		total += len(texts)
	}
	var replies []call
	lastNew, shown := time.Now(), -1
	for {
		calls, err := fetchCalls(ctx, p.Standin)
		if err != nil && ctx.Err() == nil {
			return replies, fmt.Errorf("reading the stand-in's calls from %s: %w", p.Standin, err)
		}
		if err == nil {
			if fresh := sendMessages(calls); len(fresh) > len(replies) {
				replies, lastNew = fresh, time.Now()
			}
		}
		seen := countExpected(replies, want)
		if seen != shown {
			fmt.Printf("replies so far: %d of %d\n", seen, total)
			shown = seen
		}
		switch {
		case seen == total:
			return replies, nil
		case len(replies) > 0 && time.Since(lastNew) > p.Quiet, ctx.Err() != nil:
			fmt.Printf("%d expected replies not seen (a container still starting? run play again, "+
				"or watch with `fleet.sh logs`)\n", total-seen)
			return replies, nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
		}
	}
}

// expectedReplies is what the echo assistant answers to the sample
// conversation: "echo: <text>" in the chat of every routable text message.
func expectedReplies(updates [][]byte) map[int64]map[string]bool {
	want := map[int64]map[string]bool{}
	for _, body := range updates {
		var raw map[string]json.RawMessage
		var id int64
		if json.Unmarshal(body, &raw) != nil || json.Unmarshal(raw["update_id"], &id) != nil ||
			samples.ExpectedTenant[id] == "" {
			continue
		}
		for _, kind := range []string{"message", "edited_message", "channel_post", "edited_channel_post"} {
			var m struct {
				Chat *struct {
					ID int64 `json:"id"`
				} `json:"chat"`
				Text string `json:"text"`
			}
			if raw[kind] == nil || json.Unmarshal(raw[kind], &m) != nil || m.Chat == nil || m.Text == "" {
				continue
			}
			if want[m.Chat.ID] == nil {
				want[m.Chat.ID] = map[string]bool{}
			}
			want[m.Chat.ID]["echo: "+m.Text] = true
		}
	}
	return want
}

func countExpected(replies []call, want map[int64]map[string]bool) int {
	seen := map[int64]map[string]bool{}
	n := 0
	for _, r := range replies {
		if want[r.ChatID][r.Text] && !seen[r.ChatID][r.Text] {
			if seen[r.ChatID] == nil {
				seen[r.ChatID] = map[string]bool{}
			}
			seen[r.ChatID][r.Text] = true
			n++
		}
	}
	return n
}

func fetchCalls(ctx context.Context, base string) ([]call, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+callsPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", callsPath, resp.Status)
	}
	var calls []call
	return calls, json.NewDecoder(resp.Body).Decode(&calls)
}

func sendMessages(calls []call) []call {
	var out []call
	for _, c := range calls {
		if c.Method == "sendMessage" && c.ChatID != 0 {
			out = append(out, c)
		}
	}
	return out
}

// printReplies prints the replies grouped by chat, chats in the order they
// were first answered.
func printReplies(replies []call) {
	names := samples.ChatNames()
	var order []int64
	byChat := map[int64][]string{}
	for _, r := range replies {
		if byChat[r.ChatID] == nil {
			order = append(order, r.ChatID)
		}
		byChat[r.ChatID] = append(byChat[r.ChatID], r.Text)
	}
	if len(order) == 0 {
		fmt.Println("no replies recorded yet")
		return
	}
	fmt.Println("replies the stand-in recorded, per chat:")
	for _, chat := range order {
		who := names[chat]
		if who == "" {
			who = strconv.FormatInt(chat, 10)
		}
		fmt.Printf("  %s (chat %d)\n", who, chat)
		for _, text := range byChat[chat] {
			fmt.Printf("    %s\n", text)
		}
	}
}
