package pki

import (
	"crypto/x509"
	"time"
)

// Renewal happens at a uniformly random point of a certificate's lifetime
// between these fractions, so that members joined together do not all renew
// together.
const (
	RenewFrom = 0.5
	RenewTo   = 0.8
)

// RenewAt is when to renew c, given r uniform in [0, 1).
func RenewAt(c *x509.Certificate, r float64) time.Time {
	life := c.NotAfter.Sub(c.NotBefore)
	return c.NotBefore.Add(time.Duration(float64(life) * (RenewFrom + (RenewTo-RenewFrom)*r)))
}
