// Package secret makes and fingerprints the secrets Zaki hands out. A secret
// itself never enters a log line, an error or an event: only its fingerprint.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// New returns a random secret of 26 base32 characters (130 bits), valid as a
// Telegram webhook secret ([A-Za-z0-9_-], 1 to 256 characters).
func New() string {
	return rand.Text()
}

// Fingerprint returns a short, stable, non-reversible name for a secret, safe
// to log: "sha256:" and the first 12 hex digits of its SHA-256. An empty
// secret fingerprints as "none".
func Fingerprint(s string) string {
	if s == "" {
		return "none"
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:6])
}
