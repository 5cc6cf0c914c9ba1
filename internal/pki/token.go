package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// TokenPrefix starts every join token and names its format's version.
const TokenPrefix = "ZKT1"

// ErrBadToken is wrapped by every error about a token's shape. None of them
// carries the token or its secret.
var ErrBadToken = errors.New("malformed join token")

var (
	hashPattern   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	tokenIDRule   = regexp.MustCompile(`^[a-z0-9]{6,32}$`)
	tokenSecretRe = regexp.MustCompile(`^[A-Za-z0-9]{16,128}$`)
)

// Token is a join token, "ZKT1.<CA hash>.<id>.<secret>": the CA hash pins
// the cluster CA for the first connection, the id names the token on the
// control plane, and the secret proves the holder may join. Only
// SecretHash is ever stored.
type Token struct {
	CAHash string
	ID     string
	Secret string
}

// NewToken makes a token for the CA whose hash is caHash, with a random id
// (48 bits, a name, not a secret) and secret (130 bits).
func NewToken(caHash string) (Token, error) {
	if !hashPattern.MatchString(caHash) {
		return Token{}, fmt.Errorf("pki: CA hash must be 64 lower-case hex digits")
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Token{}, fmt.Errorf("pki: token id: %w", err)
	}
	return Token{CAHash: caHash, ID: hex.EncodeToString(id[:]), Secret: rand.Text()}, nil
}

// ParseToken parses a token. Its errors describe the shape that was wanted,
// never what was given.
func ParseToken(s string) (Token, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 4 {
		return Token{}, fmt.Errorf("%w: want %s.<CA hash>.<id>.<secret>, got %d dot-separated parts",
			ErrBadToken, TokenPrefix, len(parts))
	}
	t := Token{CAHash: parts[1], ID: parts[2], Secret: parts[3]}
	switch {
	case parts[0] != TokenPrefix:
		return Token{}, fmt.Errorf("%w: it does not start with %s.", ErrBadToken, TokenPrefix)
	case !hashPattern.MatchString(t.CAHash):
		return Token{}, fmt.Errorf("%w: the CA hash is not 64 lower-case hex digits", ErrBadToken)
	case !tokenIDRule.MatchString(t.ID):
		return Token{}, fmt.Errorf("%w: the id is not 6-32 of a-z 0-9", ErrBadToken)
	case !tokenSecretRe.MatchString(t.Secret):
		return Token{}, fmt.Errorf("%w: the secret is not 16-128 of A-Z a-z 0-9", ErrBadToken)
	}
	return t, nil
}

// String is the whole token, secret included: print it once, log never.
func (t Token) String() string {
	return TokenPrefix + "." + t.CAHash + "." + t.ID + "." + t.Secret
}

// SecretHash is what the control plane stores: SHA-256 of the secret.
func (t Token) SecretHash() []byte {
	sum := sha256.Sum256([]byte(t.Secret))
	return sum[:]
}

// SecretMatches compares the token's secret with a stored hash in constant time.
func (t Token) SecretMatches(stored []byte) bool {
	return subtle.ConstantTimeCompare(t.SecretHash(), stored) == 1
}
