package member

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/hashicorp/go-hclog"
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/cpdial"
	"github.com/zaki-platform/zaki/internal/pki"
)

// renewTimeout bounds one Renew call.
const renewTimeout = 30 * time.Second

// RunRenewal renews the certificate until ctx ends: each time at a random
// point between 50% and 80% of its lifetime (so members that joined
// together spread out), over mutual TLS with the current certificate to
// addr. A failed renewal is retried with backoff; the new certificate is
// written to the directory and used by every new connection.
func (c *Credentials) RunRenewal(ctx context.Context, addr string, log hclog.Logger) {
	for {
		at := pki.RenewAt(c.Bundle().Cert, rand.Float64())
		if !sleepUntil(ctx, at) {
			return
		}
		if !c.renewWithRetry(ctx, addr, log) {
			return
		}
	}
}

// renewWithRetry renews once, retrying until it works, the certificate
// expires, or ctx ends; false when ctx ended.
func (c *Credentials) renewWithRetry(ctx context.Context, addr string, log hclog.Logger) bool {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = time.Second
	b.MaxInterval = time.Minute
	for {
		err := c.Renew(ctx, addr)
		if err == nil {
			log.Info("certificate renewed", "node", c.Identity().ID, "expires", c.Bundle().Cert.NotAfter)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		log.Warn("renewing the certificate", "addr", addr, "error", err,
			"expires", c.Bundle().Cert.NotAfter)
		if !sleepUntil(ctx, time.Now().Add(b.NextBackOff())) {
			return false
		}
	}
}

// Renew gets a new certificate for a new key over a new connection, keeps
// it in the directory, and then uses it.
func (c *Credentials) Renew(ctx context.Context, addr string) error {
	key, err := pki.NewKey()
	if err != nil {
		return err
	}
	csr, err := pki.NewCSR(key, c.Identity())
	if err != nil {
		return err
	}
	conn, err := cpdial.Dial(cpdial.Split(addr), c.TransportCredentials())
	if err != nil {
		return fmt.Errorf("member: renew at %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, renewTimeout)
	defer cancel()
	resp, err := zakiv1.NewJoinServiceClient(conn).Renew(ctx, &zakiv1.RenewRequest{CsrDer: csr})
	if err != nil {
		return fmt.Errorf("member: renew at %s: %w", addr, err)
	}
	b, err := bundleFrom(key, resp.CertDer, resp.CaDer, pki.CertHash(c.Bundle().CA.Raw))
	if err != nil {
		return err
	}
	if err := pki.WriteBundle(c.dir, b); err != nil {
		return err
	}
	c.set(b)
	return nil
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
