package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/zaki-platform/zaki/internal/tgstandin"
)

// callsPath lists the recorded calls. It is outside /bot<token>/ so that no
// Bot API client can reach it by accident.
const callsPath = "/standin/calls"

type serveCmd struct {
	Listen   string `name:"listen" env:"ZAKI_STANDIN_LISTEN" default:"127.0.0.1:8081" help:"Address of the Bot API, /bot<token>/<method>, and of GET /standin/calls (default: ${default})."`
	BotToken string `name:"bot-token" env:"ZAKI_BOT_TOKEN" required:"" help:"The token the stand-in accepts, <bot id>:<secret>, as the router is given it. Prefer the environment variable (required, no default)."`
}

func (s *serveCmd) Run(ctx context.Context, c *cli) error {
	log := c.logger()
	st, err := tgstandin.NewWithToken(log, s.BotToken)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", st)
	mux.HandleFunc("GET "+callsPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(recordedCalls(st.Calls()))
	})
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (move it with --listen)", s.Listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("telegram stand-in serving", "addr", ln.Addr().String(), "bot_id", st.BotID())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("telegram stand-in stopping")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// call is one recorded Bot API call as GET /standin/calls lists it: the
// method and what a reader of replies needs, never the raw body.
type call struct {
	Method string    `json:"method"`
	ChatID int64     `json:"chat_id,omitempty"`
	Text   string    `json:"text,omitempty"`
	At     time.Time `json:"at"`
}

func recordedCalls(in []tgstandin.Call) []call {
	out := make([]call, 0, len(in))
	for _, c := range in {
		out = append(out, call{Method: c.Method, ChatID: c.ChatID, Text: c.Text, At: c.At})
	}
	return out
}
