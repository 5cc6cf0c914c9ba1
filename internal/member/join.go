package member

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/cpdial"
	"github.com/zaki-platform/zaki/internal/pki"
	"github.com/zaki-platform/zaki/internal/secret"
	"google.golang.org/grpc/credentials"
)

// joinTimeout bounds one Join call.
const joinTimeout = 30 * time.Second

// Options say who a member is and how it may join.
type Options struct {
	// Dir keeps the key, certificate and CA (required).
	Dir string
	// Role is what the member is: pki.RoleAgent or pki.RoleRouter.
	Role pki.Role
	// NodeID is an agent's node id; its certificate names it.
	NodeID string
	// JoinAddr (one or more addresses, comma-separated) and Token join the cluster when Dir holds no credentials yet;
	// once joined they are not needed (a token given again is checked to be
	// of the same cluster, then ignored).
	JoinAddr, Token string
	// Logger; nil discards.
	Logger hclog.Logger
}

// Ensure returns the member's credentials: those kept in Dir, or new ones
// from joining with Token when Dir has none.
func Ensure(ctx context.Context, o Options) (*Credentials, error) {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	c, err := Load(o.Dir)
	switch {
	case err == nil:
		return c, checkStored(c, o)
	case !errors.Is(err, pki.ErrNoBundle):
		return nil, fmt.Errorf("member: %w", err)
	case o.Token == "":
		return nil, fmt.Errorf("%w: no credentials in %s: join with `zaki %s --join ADDR --token T` "+
			"(make a token on the control plane with `zaki ctl token create --role %s`)", ErrNotJoined, o.Dir, o.Role, o.Role)
	case o.JoinAddr == "":
		return nil, fmt.Errorf("%w: a join token needs the control plane's address (--join ADDR)", ErrNotJoined)
	}
	return join(ctx, o)
}

// checkStored refuses credentials that do not fit the options.
func checkStored(c *Credentials, o Options) error {
	id, b := c.Identity(), c.Bundle()
	redo := fmt.Sprintf("remove %s and join again with a new token", o.Dir)
	if id.Role != o.Role {
		return fmt.Errorf("member: the certificate in %s is for role %s, not %s: %s", o.Dir, id.Role, o.Role, redo)
	}
	if o.Role == pki.RoleAgent && o.NodeID != "" && o.NodeID != id.ID {
		return fmt.Errorf("member: the certificate in %s is for node %q, not %q: run with --node-id %s, or %s",
			o.Dir, id.ID, o.NodeID, id.ID, redo)
	}
	if time.Now().After(b.Cert.NotAfter) {
		return fmt.Errorf("member: the certificate in %s expired at %s without being renewed: %s",
			o.Dir, b.Cert.NotAfter.UTC().Format(time.RFC3339), redo)
	}
	if o.Token == "" {
		return nil
	}
	tok, err := pki.ParseToken(o.Token)
	if err != nil {
		return fmt.Errorf("member: %w", err)
	}
	if tok.CAHash != pki.CertHash(b.CA.Raw) {
		return fmt.Errorf("member: %s holds credentials of another cluster than the join token's: %s", o.Dir, redo)
	}
	o.Logger.Info("already joined, so the join token is not used; to join again (after `zaki ctl nodes rm`), "+
		"remove the state directory first", "node", id.ID, "state_dir", o.Dir)
	return nil
}

// join pins the CA by the token's hash, sends a CSR for a key made here,
// and keeps what comes back.
func join(ctx context.Context, o Options) (*Credentials, error) {
	tok, err := pki.ParseToken(o.Token)
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	csr, err := pki.NewCSR(key, pki.Identity{Role: o.Role, ID: o.NodeID})
	if err != nil {
		return nil, err
	}
	// Every address of the list is tried in turn (pick_first) until one
	// connects; the list is kept for later starts.
	conn, err := cpdial.Dial(cpdial.Split(o.JoinAddr), credentials.NewTLS(pki.PinnedTLS(tok.CAHash, time.Now)))
	if err != nil {
		return nil, fmt.Errorf("member: join %s: %w", o.JoinAddr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	resp, err := zakiv1.NewJoinServiceClient(conn).Join(ctx,
		&zakiv1.JoinRequest{Token: o.Token, CsrDer: csr, NodeId: nodeIDFor(o)})
	if err != nil {
		return nil, fmt.Errorf("member: join the cluster at %s with token %s: %w", o.JoinAddr, tok.ID, err)
	}
	b, err := bundleFrom(key, resp.CertDer, resp.CaDer, tok.CAHash)
	if err != nil {
		return nil, err
	}
	if id, _ := b.Identity(); id.Role != o.Role {
		return nil, fmt.Errorf("member: token %s is for role %s, not %s: make one with `zaki ctl token create --role %s`",
			tok.ID, id.Role, o.Role, o.Role)
	}
	c, err := save(o.Dir, cpdial.Join(cpdial.Split(o.JoinAddr)), b)
	if err != nil {
		return nil, err
	}
	o.Logger.Info("joined the cluster", "node", c.Identity().ID, "addr", o.JoinAddr,
		"token", secret.Fingerprint(o.Token), "expires", b.Cert.NotAfter)
	return c, nil
}

func nodeIDFor(o Options) string {
	if o.Role == pki.RoleAgent {
		return o.NodeID
	}
	return ""
}

// bundleFrom checks what the control plane sent: the CA is the pinned one
// and the certificate is for our key, signed by it.
func bundleFrom(key *ecdsa.PrivateKey, certDER, caDER []byte, pin string) (*pki.Bundle, error) {
	if pki.CertHash(caDER) != pin {
		return nil, fmt.Errorf("member: %w", pki.ErrPinMismatch)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("member: the CA sent: %w", err)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("member: the certificate sent: %w", err)
	}
	b := &pki.Bundle{Key: key, Cert: cert, CA: ca}
	if err := b.Check(); err != nil {
		return nil, fmt.Errorf("member: the certificate sent: %w", err)
	}
	return b, nil
}
