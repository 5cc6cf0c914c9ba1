package pki

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KEKSize is the size of a key-encryption key: AES-256.
const KEKSize = 32

// sealedMagic starts every sealed blob and is bound into the GCM tag, so a
// blob of another kind or version cannot be opened as this one.
var sealedMagic = []byte("ZAKI-KEK1")

// ErrWrongKEK is returned when a sealed blob does not open with the given
// key-encryption key: another key, or a damaged blob.
var ErrWrongKEK = errors.New("cannot decrypt with this key-encryption key (wrong key file, or damaged data)")

// Seal encrypts plaintext with AES-256-GCM under kek: magic, nonce, ciphertext.
func Seal(kek, plaintext []byte) ([]byte, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("pki: nonce: %w", err)
	}
	out := append(bytes.Clone(sealedMagic), nonce...)
	return aead.Seal(out, nonce, plaintext, sealedMagic), nil
}

// Open decrypts what Seal made; a wrong key fails with ErrWrongKEK.
func Open(kek, sealed []byte) ([]byte, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	rest, ok := bytes.CutPrefix(sealed, sealedMagic)
	if !ok || len(rest) < aead.NonceSize() {
		return nil, fmt.Errorf("pki: sealed data has an unknown format: %w", ErrWrongKEK)
	}
	nonce, ct := rest[:aead.NonceSize()], rest[aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, ct, sealedMagic)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", ErrWrongKEK)
	}
	return pt, nil
}

func newGCM(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("pki: key-encryption key is %d bytes, want %d", len(kek), KEKSize)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return cipher.NewGCM(block)
}

// ReadKEK reads a key-encryption key file: 32 raw bytes, or 64 hex digits
// (as `openssl rand -hex 32` writes them). It refuses a file others may read.
func ReadKEK(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("pki: key-encryption key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("pki: key-encryption key file %s is readable by others (mode %v): chmod 600 it",
			path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: key-encryption key file: %w", err)
	}
	if len(b) == KEKSize {
		return b, nil
	}
	if k, err := hex.DecodeString(string(bytes.TrimSpace(b))); err == nil && len(k) == KEKSize {
		return k, nil
	}
	return nil, fmt.Errorf("pki: key-encryption key file %s must hold %d raw bytes or %d hex digits",
		path, KEKSize, 2*KEKSize)
}

// LoadOrCreateKEK reads the key file at path, or, when there is none, makes
// one of 32 random bytes with mode 0600. created tells which.
//
// Several processes may race to make the same file (control planes sharing
// a volume): each writes a complete private temp file and links it into
// place, which fails when the name exists, so no one ever reads a partial
// key or overwrites another's; the losers read the winner's.
func LoadOrCreateKEK(path string) (kek []byte, created bool, err error) {
	kek, err = ReadKEK(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return kek, false, err
	}
	kek = make([]byte, KEKSize)
	if _, err := rand.Read(kek); err != nil {
		return nil, false, fmt.Errorf("pki: key-encryption key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("pki: key-encryption key dir: %w", err)
	}
	tmp, err := writeTemp(dir, kek)
	if err != nil {
		return nil, false, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			kek, err = ReadKEK(path) // another process made it first
			return kek, false, err
		}
		return nil, false, fmt.Errorf("pki: create key-encryption key file: %w", err)
	}
	return kek, true, nil
}

// writeTemp writes b, synced, to a new mode-0600 file in dir and returns
// its name.
func writeTemp(dir string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".kek-*")
	if err != nil {
		return "", fmt.Errorf("pki: create key-encryption key file: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("pki: write key-encryption key file: %w", err)
	}
	return f.Name(), nil
}
