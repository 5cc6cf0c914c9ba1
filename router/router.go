package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/member"
	"github.com/zaki-platform/zaki/internal/secret"
)

// Router is a running router. It stops when the context given to Start ends.
type Router struct {
	cfg      Config
	log      hclog.Logger
	m        *metrics
	cache    *routeCache
	resolver *resolver
	delivery *delivery

	webhookLn, frontLn net.Listener
	conn               *grpc.ClientConn
	creds              *member.Credentials // nil: plaintext (tests only)

	wg   sync.WaitGroup
	done chan struct{} // closed when everything has stopped
	err  error         // set before done closes
}

// Start binds both listeners, registers the bot with the control plane and
// starts serving. It returns once both listeners are bound; the router stops
// when ctx ends, and Wait reports how.
func Start(ctx context.Context, cfg Config) (*Router, error) {
	cfg = cfg.withDefaults()
	botID, err := parseBotID(cfg.BotToken)
	if err != nil {
		return nil, err
	}
	if err := checkWebhookSecret(cfg.WebhookSecret); err != nil {
		return nil, err
	}
	r := &Router{cfg: cfg, log: cfg.Logger, done: make(chan struct{})}
	if err := r.listen(); err != nil {
		return nil, err
	}
	r.conn, err = r.dialControlPlane(ctx)
	if err != nil {
		r.closeListeners()
		return nil, fmt.Errorf("control plane %s: %w", cfg.ControlPlane, err)
	}
	tenants := zakiv1.NewTenantServiceClient(r.conn)
	if err := setBot(ctx, r.log, tenants, botID); err != nil {
		r.closeListeners()
		r.conn.Close()
		return nil, err
	}
	if cfg.PublicURL != "" {
		if err := r.setWebhook(ctx); err != nil {
			r.closeListeners()
			r.conn.Close()
			return nil, err
		}
	}
	r.log.Info("router started", "addr", r.WebhookAddr(), "front", r.FrontAddr(),
		"bot", botID, "token", secret.Fingerprint(cfg.BotToken))
	r.run(ctx, tenants, botID)
	return r, nil
}

func (r *Router) listen() error {
	var err error
	if r.webhookLn, err = net.Listen("tcp", r.cfg.Listen); err != nil {
		return fmt.Errorf("webhook listener: %w", err)
	}
	if r.frontLn, err = net.Listen("tcp", r.cfg.FrontListen); err != nil {
		r.webhookLn.Close()
		return fmt.Errorf("bot api front listener: %w", err)
	}
	return nil
}

func (r *Router) closeListeners() {
	r.webhookLn.Close()
	r.frontLn.Close()
}

// setBot records the bot with the control plane, waiting for as long as the
// control plane is unreachable (a router started first, or during its
// restart) and saying so; a different bot already recorded is final.
func setBot(ctx context.Context, log hclog.Logger, tenants zakiv1.TenantServiceClient, botID int64) error {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		_, err := tenants.SetBot(ctx, &zakiv1.SetBotRequest{BotId: botID})
		if status.Code(err) == codes.Unavailable {
			return struct{}{}, err
		}
		if err != nil {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, nil
	}, backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, next time.Duration) {
		log.Warn("control plane not reachable yet, retrying", "retry_in", next.Round(time.Millisecond), "error", err)
	}))
	if err != nil {
		return fmt.Errorf("set bot %d: %w", botID, err)
	}
	return nil
}

// run wires the parts and starts every goroutine; the last one to notice ctx
// ending shuts the servers down.
func (r *Router) run(parent context.Context, tenants zakiv1.TenantServiceClient, botID int64) {
	ctx, cancel := context.WithCancel(parent)
	staleAfter := 3 * r.cfg.ProgressInterval
	r.cache = newRouteCache(staleAfter, time.Now)
	r.m = newMetrics(r.cfg.Registry, r.cache.age)
	r.resolver = &resolver{tenants: tenants, cache: r.cache}
	r.delivery = &delivery{
		tenants: tenants, cache: r.cache, client: r.cfg.HTTPClient, timeout: r.cfg.ForwardTimeout,
		retryMin: r.cfg.RetryMin, m: r.m, log: r.log, ctx: ctx, wg: &r.wg,
		queues: map[string]*tenantQueue{},
	}
	w := &watcher{tenants: tenants, cache: r.cache, staleAfter: staleAfter, retryMin: r.cfg.RetryMin,
		log: r.log, onChange: func() { r.m.routes.Set(float64(r.cache.size())) }}
	f := &front{api: r.cfg.TelegramAPIURL, token: r.cfg.BotToken, botID: strconv.FormatInt(botID, 10),
		maxBody: r.cfg.MaxFrontBodyBytes, cache: r.cache, client: r.cfg.HTTPClient, m: r.m, log: r.log}

	mux := http.NewServeMux()
	mux.HandleFunc(WebhookPath, r.serveWebhook)
	webhookSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	frontSrv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}

	errs := make(chan error, 2)
	r.wg.Add(4)
	go func() { defer r.wg.Done(); w.run(ctx) }()
	go r.delivery.discover()
	go func() { defer r.wg.Done(); errs <- serve(webhookSrv, r.webhookLn) }()
	go func() { defer r.wg.Done(); errs <- serve(frontSrv, r.frontLn) }()
	if r.cfg.PublicURL != "" {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); r.watchWebhookInfo(ctx) }()
	}
	r.startRenewal(ctx)
	go r.stop(ctx, cancel, errs, webhookSrv, frontSrv)
}

func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// stop waits for ctx to end (or a server to fail), ends the router's
// context for the watcher and drainers, shuts both servers down
// gracefully, waits for every goroutine and closes the control plane link.
func (r *Router) stop(ctx context.Context, cancel context.CancelFunc, errs <-chan error, srvs ...*http.Server) {
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	cancel()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range srvs {
		_ = s.Shutdown(shutdownCtx)
	}
	if err != nil {
		r.log.Error("server failed", "error", err)
	}
	r.wg.Wait()
	r.conn.Close()
	r.err = err
	r.log.Info("router stopped")
	close(r.done)
}

// WebhookAddr is the bound address of the webhook listener.
func (r *Router) WebhookAddr() string { return r.webhookLn.Addr().String() }

// FrontAddr is the bound address of the Bot API front.
func (r *Router) FrontAddr() string { return r.frontLn.Addr().String() }

// Ready returns nil once the route cache holds a snapshot from a live stream
// that has spoken recently.
func (r *Router) Ready() error {
	if !r.cache.fresh() {
		return errors.New("router: route cache is not synced with the control plane")
	}
	return nil
}

// Wait blocks until the router has stopped and returns why, nil after the
// context ended.
func (r *Router) Wait() error {
	<-r.done
	return r.err
}
