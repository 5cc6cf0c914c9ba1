package devcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/client"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zaki-platform/zaki/agent"
	"github.com/zaki-platform/zaki/controlplane"
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/dockerhost"
	"github.com/zaki-platform/zaki/internal/obs"
	"github.com/zaki-platform/zaki/internal/secret"
	"github.com/zaki-platform/zaki/internal/tgstandin"
	"github.com/zaki-platform/zaki/internal/version"
	"github.com/zaki-platform/zaki/profile"
	"github.com/zaki-platform/zaki/router"
)

// sampleBotID is the bot id the sample updates were written for.
const sampleBotID = 6100000001

// Cluster is a running dev cluster. Its parts stop when the context given to
// Start ends; Wait returns once they have.
type Cluster struct {
	Options
	ControlPlane *controlplane.Server
	Router       *router.Router
	Agent        *agent.Agent
	// Standin is the local Telegram stand-in; nil with a real bot token.
	Standin *tgstandin.Server
	// WebhookURL is where Telegram (or the stand-in) posts updates.
	WebhookURL string

	registry *prometheus.Registry // every role's metrics, served on OpsListen
	mu       sync.Mutex           // guards Agent, which the ops server reads while Start runs
	docker   *client.Client
	tempDir  string // removed at Wait
	ownsNode bool   // this run cleared the node, so it removes its Docker objects at Wait
	agentErr chan error
}

// Start brings up every part and returns once the agent holds a session with
// the control plane, so updates sent after it are served.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	o.setDefaults()
	c := &Cluster{Options: o, agentErr: make(chan error, 1), registry: obs.NewRegistry()}
	if err := c.start(ctx); err != nil {
		c.cleanup()
		if errors.Is(err, syscall.EADDRINUSE) {
			err = fmt.Errorf("%w\n(is another zaki dev running? stop it, or move this one with "+
				"--listen, --grpc-listen, --http-listen, --front-port, --standin-listen, --etcd-client-url and --etcd-peer-url)", err)
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	p, err := profile.Lookup(c.Profile)
	if err != nil {
		return err
	}
	if c.docker, err = dockerhost.Client(ctx); err != nil {
		return err
	}
	if c.Profile != "openclaw" {
		// OpenClaw's image is pulled by Docker on a real host; locally built
		// profiles cannot be pulled, so say how to build them.
		if err := dockerhost.RequireImage(ctx, c.docker, p.Image); err != nil {
			return err
		}
	}
	if err := c.prepareState(); err != nil {
		return err
	}
	// Every listener is bound before the node's Docker objects are touched,
	// so a second zaki dev fails on a busy port and leaves the first alone.
	if err := c.startTelegram(); err != nil {
		return err
	}
	if err := c.startControlPlane(ctx); err != nil {
		return err
	}
	if err := c.startRouter(ctx); err != nil {
		return err
	}
	if _, err := obs.ServeOps(ctx, c.Logger, c.OpsListen, c.registry, c.Ready); err != nil {
		return err
	}
	if err := c.claimNode(ctx); err != nil {
		return err
	}
	return c.startAgent(ctx)
}

// Ready is nil when every part is ready.
func (c *Cluster) Ready() error {
	c.mu.Lock()
	a := c.Agent
	c.mu.Unlock()
	if a == nil {
		return errors.New("agent not started yet")
	}
	return errors.Join(c.ControlPlane.Ready(), c.Router.Ready(), a.Ready())
}

// prepareState picks the data directory: the one given, or a fresh
// temporary one that is removed at exit.
func (c *Cluster) prepareState() error {
	if c.DataDir != "" {
		return nil
	}
	dir, err := os.MkdirTemp("", "zaki-dev-")
	if err != nil {
		return fmt.Errorf("temporary data directory: %w", err)
	}
	c.tempDir, c.DataDir = dir, dir
	return nil
}

// claimNode starts a temporary state from nothing: it removes the node's
// containers and volumes that an earlier dev run left (one killed before it
// could clean up, or one with --data-dir), and says so.
func (c *Cluster) claimNode(ctx context.Context) error {
	if c.tempDir == "" {
		return nil
	}
	c.ownsNode = true
	n, err := dockerhost.RemoveNodeObjects(ctx, c.docker, c.NodeID)
	if n.Containers+n.Volumes > 0 {
		c.Logger.Info("removed what an earlier zaki dev left on this node (keep state with --data-dir)",
			"node", c.NodeID, "containers", n.Containers, "volumes", n.Volumes)
	}
	return err
}

func (c *Cluster) startTelegram() error {
	if c.WebhookSecret == "" {
		c.WebhookSecret = secret.New()
	}
	if c.BotToken != "" {
		return nil
	}
	c.Standin = tgstandin.New(c.Logger.Named("telegram-standin"), sampleBotID)
	url, err := c.Standin.Start(c.StandinListen)
	if err != nil {
		return fmt.Errorf("local Telegram stand-in on %s: %w", c.StandinListen, err)
	}
	c.BotToken, c.TelegramAPIURL = c.Standin.Token(), url
	return nil
}

func (c *Cluster) startControlPlane(ctx context.Context) error {
	cp, err := controlplane.Start(ctx, controlplane.Config{
		DataDir:         c.DataDir + "/etcd",
		EtcdClientURL:   c.EtcdClientURL,
		EtcdPeerURL:     c.EtcdPeerURL,
		GRPCListen:      c.GRPCListen,
		HeartbeatPeriod: time.Duration(c.HeartbeatSecs) * time.Second,
		DefaultProfile:  c.Profile,
		AdminDir:        c.CredentialsDir,
		Logger:          c.Logger.Named("controlplane"),
		Registry:        c.registry,
	})
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	c.ControlPlane = cp
	return nil
}

func (c *Cluster) startRouter(ctx context.Context) error {
	hostIP, err := dockerhost.BridgeHostIP(ctx, c.docker)
	if err != nil {
		return err
	}
	stateDir := filepath.Join(c.DataDir, "router")
	token, err := c.joinToken(ctx, zakiv1.Role_ROLE_ROUTER, stateDir)
	if err != nil {
		return err
	}
	r, err := router.Start(ctx, router.Config{
		StateDir:       stateDir,
		JoinToken:      token,
		Listen:         c.WebhookListen,
		FrontListen:    net.JoinHostPort(hostIP, strconv.Itoa(c.FrontPort)),
		ControlPlane:   c.ControlPlane.Addr(),
		BotToken:       c.BotToken,
		WebhookSecret:  c.WebhookSecret,
		TelegramAPIURL: c.TelegramAPIURL,
		PublicURL:      c.PublicURL,
		Logger:         c.Logger.Named("router"),
		Registry:       c.registry,
	})
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	c.Router = r
	c.WebhookURL = "http://" + r.WebhookAddr() + "/telegram/webhook"
	return nil
}

func (c *Cluster) startAgent(ctx context.Context) error {
	stateDir := filepath.Join(c.DataDir, "agent")
	token, err := c.joinToken(ctx, zakiv1.Role_ROLE_AGENT, stateDir)
	if err != nil {
		return err
	}
	a, err := agent.New(agent.Config{
		StateDir:     stateDir,
		JoinToken:    token,
		NodeID:       c.NodeID,
		ControlPlane: c.ControlPlane.Addr(),
		Address:      "127.0.0.1",
		PortMin:      c.PortMin,
		PortMax:      c.PortMax,
		BotAPIURL:    "http://host.docker.internal:" + strconv.Itoa(c.FrontPort),
		Version:      version.Version,
		Logger:       c.Logger.Named("agent"),
		Registry:     c.registry,
		Docker:       c.docker,
	})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	c.mu.Lock()
	c.Agent = a
	c.mu.Unlock()
	go func() { c.agentErr <- a.Run(ctx) }()
	return waitFor(ctx, 30*time.Second, a.Ready)
}

// Wait blocks until every part has stopped, then removes a temporary state.
func (c *Cluster) Wait() error {
	errs := []error{<-c.agentErr, c.Router.Wait(), c.ControlPlane.Wait()}
	c.cleanup()
	return errors.Join(ignoreCanceled(errs)...)
}

func (c *Cluster) cleanup() {
	if c.Standin != nil {
		_ = c.Standin.Close()
	}
	if c.tempDir != "" {
		defer os.RemoveAll(c.tempDir)
	}
	if !c.ownsNode {
		return
	}
	c.Logger.Info("removing the dev node's containers, networks and volumes", "node", c.NodeID)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := dockerhost.RemoveNodeObjects(ctx, c.docker, c.NodeID); err != nil {
		c.Logger.Warn("dev cleanup", "error", err)
	}
}

// waitFor polls ready until it returns nil or the timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, ready func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		case <-tick.C:
		}
	}
}

func ignoreCanceled(errs []error) []error {
	var out []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			out = append(out, err)
		}
	}
	return out
}
