// Command zaki-echo is the stand-in assistant used by tests and the offline
// demo. It speaks the per-user container contract of design §6: a Telegram
// webhook listener that checks the secret header, a durable record of every
// update_id under its volume, health and readiness paths, and replies through
// the Bot API root it is given. It answers each text message with
// "echo: <text>" in the same chat.
//
// It imports only the standard library, so it builds into a small static
// binary for an image FROM scratch.
//
// Environment (the echo profile sets all of them):
//
//	ZAKI_ECHO_LISTEN          listen address, default ":8787"
//	ZAKI_ECHO_WEBHOOK_PATH    webhook path, default "/telegram-webhook"
//	ZAKI_ECHO_DATA            data directory, default "/data" (updates.log lives there)
//	ZAKI_ECHO_BOT_TOKEN       Bot API token (the pseudo token), required
//	ZAKI_ECHO_API_ROOT        Bot API root without trailing slash, default "https://api.telegram.org"
//	ZAKI_ECHO_WEBHOOK_SECRET  expected X-Telegram-Bot-Api-Secret-Token, required
//	ZAKI_ECHO_TENANT          tenant id, only for logs
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// config is the process configuration, read from the environment.
type config struct {
	Listen        string
	WebhookPath   string
	DataDir       string
	BotToken      string
	APIRoot       string
	WebhookSecret string
	Tenant        string
}

func configFromEnv(getenv func(string) string) (config, error) {
	c := config{
		Listen:        or(getenv("ZAKI_ECHO_LISTEN"), ":8787"),
		WebhookPath:   or(getenv("ZAKI_ECHO_WEBHOOK_PATH"), "/telegram-webhook"),
		DataDir:       or(getenv("ZAKI_ECHO_DATA"), "/data"),
		BotToken:      getenv("ZAKI_ECHO_BOT_TOKEN"),
		APIRoot:       strings.TrimRight(or(getenv("ZAKI_ECHO_API_ROOT"), "https://api.telegram.org"), "/"),
		WebhookSecret: getenv("ZAKI_ECHO_WEBHOOK_SECRET"),
		Tenant:        getenv("ZAKI_ECHO_TENANT"),
	}
	switch {
	case c.BotToken == "":
		return c, errors.New("ZAKI_ECHO_BOT_TOKEN is required")
	case c.WebhookSecret == "":
		return c, errors.New("ZAKI_ECHO_WEBHOOK_SECRET is required: an open webhook would accept anyone's updates")
	case !strings.HasPrefix(c.WebhookPath, "/"):
		return c, fmt.Errorf("ZAKI_ECHO_WEBHOOK_PATH %q must start with /", c.WebhookPath)
	}
	return c, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	if err := run(log); err != nil {
		log.Error("zaki-echo stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log = log.With("tenant", cfg.Tenant)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	return serve(ctx, log, cfg, ln)
}

// serve runs the echo on ln until ctx ends, then drains: the listener stops
// taking updates, and replies already queued get a few seconds to go out.
func serve(ctx context.Context, log *slog.Logger, cfg config, ln net.Listener) error {
	sendCtx, cancelSend := context.WithCancel(context.Background())
	defer cancelSend()
	replier := newReplier(log, http.DefaultClient, cfg.APIRoot, cfg.BotToken)
	done := make(chan struct{})
	go func() { replier.run(sendCtx); close(done) }()

	e := newEcho(log, cfg, replier)
	srv := &http.Server{Handler: e.handler(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("zaki-echo listening", "addr", ln.Addr().String())

	// The log is loaded after the listener is up so /healthz answers while a
	// long log loads; /readyz and the webhook wait for it.
	if err := e.load(); err != nil {
		_ = srv.Close()
		return err
	}
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("zaki-echo shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	replier.close()
	select {
	case <-done:
	case <-shutCtx.Done():
		cancelSend()
		<-done
	}
	e.close()
	return err
}
