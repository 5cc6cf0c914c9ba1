package pki

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The files of a bundle directory, each 0600.
const (
	KeyFile  = "key.pem"
	CertFile = "cert.pem"
	CAFile   = "ca.pem"
)

// ErrNoBundle is wrapped when a directory holds no credentials yet.
var ErrNoBundle = errors.New("no credentials")

// Bundle is what a cluster member holds: its private key, its certificate
// and the cluster CA's certificate.
type Bundle struct {
	Key  *ecdsa.PrivateKey
	Cert *x509.Certificate
	CA   *x509.Certificate
}

// Identity is who the bundle's certificate names.
func (b *Bundle) Identity() (Identity, error) { return IdentityOf(b.Cert) }

// TLSCertificate is the certificate with its key, for a tls.Config.
func (b *Bundle) TLSCertificate() *tls.Certificate {
	return &tls.Certificate{Certificate: [][]byte{b.Cert.Raw}, PrivateKey: b.Key, Leaf: b.Cert}
}

// Check verifies that the certificate belongs to the key and chains to the CA.
func (b *Bundle) Check() error {
	if !b.Key.PublicKey.Equal(b.Cert.PublicKey) {
		return errors.New("pki: the certificate does not belong to the private key")
	}
	if err := b.Cert.CheckSignatureFrom(b.CA); err != nil {
		return fmt.Errorf("pki: the certificate was not signed by the CA: %w", err)
	}
	_, err := IdentityOf(b.Cert)
	return err
}

// WriteBundle writes the bundle into dir (made 0700) as PEM files of mode
// 0600. Each file is written under a temporary name, synced and renamed, so
// a reader never sees half a file. A crash between two renames can leave a
// certificate that does not match the key; ReadBundle refuses that pair
// rather than use it.
func WriteBundle(dir string, b *Bundle) error {
	keyDER, err := MarshalKey(b.Key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: credentials dir: %w", err)
	}
	files := []struct {
		name, typ string
		der       []byte
	}{
		{CAFile, "CERTIFICATE", b.CA.Raw},
		{CertFile, "CERTIFICATE", b.Cert.Raw},
		{KeyFile, "PRIVATE KEY", keyDER},
	}
	for _, f := range files {
		data := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := writeFileAtomic(filepath.Join(dir, f.name), data); err != nil {
			return err
		}
	}
	return nil
}

// ReadBundle reads and checks the bundle in dir. A directory without one
// gives an error wrapping ErrNoBundle.
func ReadBundle(dir string) (*Bundle, error) {
	blocks := map[string][]byte{}
	for _, name := range []string{KeyFile, CertFile, CAFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("pki: %w in %s (%s missing)", ErrNoBundle, dir, name)
		}
		if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		blk, _ := pem.Decode(data)
		if blk == nil {
			return nil, fmt.Errorf("pki: %s holds no PEM block", filepath.Join(dir, name))
		}
		blocks[name] = blk.Bytes
	}
	key, err := ParseKey(blocks[KeyFile])
	if err != nil {
		return nil, err
	}
	b := &Bundle{Key: key}
	if b.Cert, err = x509.ParseCertificate(blocks[CertFile]); err != nil {
		return nil, fmt.Errorf("pki: %s: %w", CertFile, err)
	}
	if b.CA, err = x509.ParseCertificate(blocks[CAFile]); err != nil {
		return nil, fmt.Errorf("pki: %s: %w", CAFile, err)
	}
	if err := b.Check(); err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, dir)
	}
	return b, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	return nil
}
