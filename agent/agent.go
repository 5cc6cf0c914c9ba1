package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/every"
	"github.com/zaki-platform/zaki/internal/pki"
	"github.com/zaki-platform/zaki/profile"
)

// Agent runs one node's tenant containers as the control plane asks. Make it
// with New; Run it once.
type Agent struct {
	cfg    Config
	log    hclog.Logger
	eng    *engine
	m      *metrics
	board  *board
	hc     *http.Client
	lookup func(name string) (profile.Profile, error)
	// closer is the Docker client New made itself, closed when Run returns.
	closer io.Closer
	// workers counts running tenant workers; Run waits for them.
	workers sync.WaitGroup
	// bundle returns the node's current credentials; nil without a
	// StateDir (plaintext, tests only). Set by Run before anything uses it.
	bundle func() *pki.Bundle
	// transferAddr is the TransferService address reported in Register;
	// "" when none is served. Set by Run before the first session.
	transferAddr string
	// transfer serves volumes to moves' targets; nil when none is served.
	transfer *transferServer

	mu sync.Mutex // guards the fields below
	// tenants are the live workers by tenant id. A worker removes itself
	// (under mu) once its tenant is gone from the engine and unwanted.
	tenants map[string]*worker
	// runCtx is Run's context, the parent of every worker.
	runCtx context.Context
	// notReady is why Ready fails; nil while a session is up.
	notReady error
}

// New checks cfg, fills its defaults and returns an agent that has not
// started anything yet.
func New(cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:      cfg,
		log:      cfg.Logger.With("node", cfg.NodeID),
		hc:       &http.Client{Timeout: 2 * time.Second},
		lookup:   profile.Lookup,
		tenants:  map[string]*worker{},
		notReady: errors.New("no session with the control plane yet"),
	}
	if cfg.Docker == nil {
		cli, err := localDocker()
		if err != nil {
			return nil, err
		}
		cfg.Docker, a.closer = cli, cli
	}
	a.eng = &engine{d: cfg.Docker, node: cfg.NodeID}
	if a.m, err = newMetrics(cfg.Registry); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	a.board = newBoard(a.m.containers)
	return a, nil
}

// Ready returns nil while a session with the control plane is up, and the
// reason otherwise.
func (a *Agent) Ready() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.notReady
}

func (a *Agent) setReady(err error) {
	a.mu.Lock()
	a.notReady = err
	a.mu.Unlock()
}

// Run holds the session with the control plane and runs tenant workers until
// ctx ends. It never stops a tenant's container on its way out: containers
// outlive the agent, and the next agent adopts them.
func (a *Agent) Run(ctx context.Context) error {
	// Ends the resync loop too when the sessions stop for good (a join
	// that cannot succeed), so Run returns instead of waiting on it.
	ctx, cancel := context.WithCancel(ctx)
	a.mu.Lock()
	a.runCtx = ctx
	a.mu.Unlock()
	defer func() {
		cancel()
		a.workers.Wait()
		if a.closer != nil {
			_ = a.closer.Close()
		}
	}()
	a.log.Info("agent starting", "addr", a.cfg.ControlPlane)
	creds, err := a.credentials(ctx)
	if err != nil {
		return err
	}
	if creds != nil {
		a.bundle = creds.Bundle
	}
	if err := a.serveTransfer(ctx); err != nil {
		return err
	}
	a.workers.Add(1)
	go func() {
		defer a.workers.Done()
		every.Run(ctx, a.cfg.ResyncPeriod, func(context.Context) { a.resyncAll() })
	}()
	err = a.runSessions(ctx, creds)
	a.log.Info("agent stopped")
	return err
}

// tenantIDPattern keeps tenant ids usable in Docker names and labels.
var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// checkAssignment says why an assignment cannot be run here, or nil.
func (a *Agent) checkAssignment(as *zakiv1.Assignment) error {
	switch {
	case !tenantIDPattern.MatchString(as.GetTenantId()):
		return fmt.Errorf("tenant id %q is not usable in a container name", as.GetTenantId())
	case as.GetGeneration() == 0:
		return fmt.Errorf("tenant %s: generation 0", as.GetTenantId())
	case as.GetHostPort() < a.cfg.PortMin || as.GetHostPort() > a.cfg.PortMax:
		return fmt.Errorf("tenant %s: host port %d is outside node %s's range %d-%d",
			as.GetTenantId(), as.GetHostPort(), a.cfg.NodeID, a.cfg.PortMin, a.cfg.PortMax)
	}
	return nil
}
