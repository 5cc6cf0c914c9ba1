package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zaki-platform/zaki/internal/samples"
	"github.com/zaki-platform/zaki/internal/testutil"
)

const (
	mina  = 5010000001
	group = -4010000001
	forum = -1002010000001 // nobody added the bot there: unroutable
)

func TestExpectedReplies(t *testing.T) {
	want := expectedReplies(samples.Updates())
	if !want[mina]["echo: /start"] || !want[mina]["echo: remind me to call the dentist at 5pm"] {
		t.Errorf("Mina's replies: %v", want[mina])
	}
	if len(want[group]) == 0 {
		t.Errorf("no reply expected in the group: %v", want)
	}
	if len(want[forum]) != 0 {
		t.Errorf("a reply is expected in the unroutable forum: %v", want[forum])
	}
}

// TestPlayPrintsReplies runs serve, and play against a fake router that
// answers every update 200 and replies to Mina through the stand-in.
func TestPlayPrintsReplies(t *testing.T) {
	const token = "6100000001:AAtest"
	addr := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	c := &cli{LogLevel: "error"}
	go func() { served <- (&serveCmd{Listen: addr, BotToken: token}).Run(ctx, c) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	var posted atomic.Int32
	router := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Telegram-Bot-Api-Secret-Token") != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if posted.Add(1) == 1 {
			resp, err := http.Post("http://"+addr+"/bot"+token+"/sendMessage", "application/json",
				strings.NewReader(`{"chat_id": 5010000001, "text": "echo: /start"}`))
			if err != nil {
				t.Errorf("sendMessage: %v", err)
			} else {
				resp.Body.Close()
			}
		}
	}))
	t.Cleanup(router.Close)

	p := &playCmd{Webhook: router.URL, WebhookSecret: "s3cret", Standin: "http://" + addr,
		Wait: 5 * time.Second, Quiet: 200 * time.Millisecond}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := fetchCalls(ctx, p.Standin); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the stand-in does not answer: %v", err)
		}
	}
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if int(posted.Load()) != len(samples.Updates()) {
		t.Errorf("the router got %d updates, want %d", posted.Load(), len(samples.Updates()))
	}
	calls, err := fetchCalls(ctx, p.Standin)
	if err != nil || len(sendMessages(calls)) != 1 {
		t.Fatalf("recorded calls %v, %v; want the one reply", calls, err)
	}

	p.WebhookSecret = "wrong"
	if err := p.Run(ctx); err == nil {
		t.Error("play with a wrong secret succeeded")
	}
}
