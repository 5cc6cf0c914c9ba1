package pki

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA(t0)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestToken(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	good, err := NewToken(hash)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseToken(" " + good.String() + "\n")
	if err != nil || back != good {
		t.Fatalf("round trip: %v %v", back, err)
	}
	if !back.SecretMatches(good.SecretHash()) {
		t.Fatal("the secret does not match its own hash")
	}
	if (Token{Secret: "other"}).SecretMatches(good.SecretHash()) {
		t.Fatal("another secret matches")
	}
	cases := []struct{ name, token, want string }{
		{"empty", "", "got 1 dot-separated parts"},
		{"three parts", "ZKT1." + hash + ".abcdef", "got 3"},
		{"wrong prefix", "ZKT9." + hash + ".abcdef.SECRETSECRETSECRET", "does not start with ZKT1"},
		{"short hash", "ZKT1.abc.abcdef.SECRETSECRETSECRET", "CA hash"},
		{"upper hash", "ZKT1." + strings.ToUpper(hash) + ".abcdef.SECRETSECRETSECRET", "CA hash"},
		{"bad id", "ZKT1." + hash + ".AB.SECRETSECRETSECRET", "the id"},
		{"short secret", "ZKT1." + hash + ".abcdef.SECRET", "the secret"},
		{"bad secret chars", "ZKT1." + hash + ".abcdef.SECRET-SECRET-SECRET!", "the secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseToken(tc.token)
			if !errors.Is(err, ErrBadToken) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrBadToken with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error echoes the secret: %v", err)
			}
		})
	}
}

func TestSignCSR(t *testing.T) {
	ca := newTestCA(t)
	key, _ := NewKey()
	csr, err := NewCSR(key, Identity{RoleAgent, "ignored-by-ca"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewKey()
	forged, _ := NewCSR(other, Identity{RoleAgent, "x"})
	forged[len(forged)-3] ^= 0xff // break the signature
	cases := []struct {
		name string
		csr  []byte
		id   Identity
		want string
	}{
		{"agent", csr, Identity{RoleAgent, "node-1"}, ""},
		{"router", csr, Identity{RoleRouter, "router-ab12"}, ""},
		{"bad role", csr, Identity{"root", "x"}, "unknown role"},
		{"bad id", csr, Identity{RoleAgent, "-x"}, "must match"},
		{"garbage csr", []byte("nope"), Identity{RoleAgent, "node-1"}, "parse the certificate request"},
		{"broken signature", forged, Identity{RoleAgent, "node-1"}, "certificate request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := ca.SignCSR(tc.csr, tc.id, t0, time.Hour)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := IdentityOf(cert)
			if err != nil || got != tc.id || cert.Subject.CommonName != tc.id.ID {
				t.Fatalf("identity %v %v, want %v", got, err, tc.id)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Fatalf("verify as client: %v", err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
				t.Fatal("a member's certificate verifies as a server")
			}
			if !cert.NotAfter.Equal(t0.Add(time.Hour)) {
				t.Fatalf("not after %v", cert.NotAfter)
			}
		})
	}
}

// serverChain is a control plane's chain as it sends it: leaf, then CA.
func serverChain(t *testing.T, ca *CA) []*x509.Certificate {
	t.Helper()
	key, _ := NewKey()
	leaf, err := ca.IssueServer(&key.PublicKey, Identity{RoleControlPlane, "cp-1"}, []string{"10.0.0.1", "cp.example"},
		t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{leaf, ca.Cert}
}

func TestVerifyPinned(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	good := serverChain(t, ca)
	memberKey, _ := NewKey()
	csr, _ := NewCSR(memberKey, Identity{RoleAgent, "n"})
	member, _ := ca.SignCSR(csr, Identity{RoleAgent, "n"}, t0, time.Hour)
	cases := []struct {
		name  string
		chain []*x509.Certificate
		pin   string
		at    time.Time
		want  error
	}{
		{"good", good, ca.Hash(), t0, nil},
		{"pinned to another CA", good, other.Hash(), t0, ErrPinMismatch},
		{"leaf of another CA with our CA attached", []*x509.Certificate{serverChain(t, other)[0], ca.Cert},
			ca.Hash(), t0, errors.New("does not verify")},
		{"a member's certificate posing as the server", []*x509.Certificate{member, ca.Cert}, ca.Hash(), t0,
			errors.New("does not verify")},
		{"expired", good, ca.Hash(), t0.Add(2 * time.Hour), errors.New("does not verify")},
		{"no CA sent", good[:1], ca.Hash(), t0, ErrPinMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyPinned(tc.chain, tc.pin, tc.at)
			switch {
			case tc.want == nil && err != nil:
				t.Fatal(err)
			case tc.want == nil && !got.Equal(ca.Cert):
				t.Fatal("returned another CA")
			case tc.want != nil && err == nil:
				t.Fatal("verified")
			case tc.want != nil && !errors.Is(err, tc.want) && !strings.Contains(err.Error(), tc.want.Error()):
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	kek, wrong := bytes.Repeat([]byte{1}, KEKSize), bytes.Repeat([]byte{2}, KEKSize)
	ca := newTestCA(t)
	keyDER, _ := MarshalKey(ca.Key)
	sealed, err := Seal(kek, keyDER)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, keyDER[len(keyDER)-32:]) {
		t.Fatal("sealed blob holds the key in clear")
	}
	cases := []struct {
		name   string
		kek    []byte
		sealed []byte
		want   string
	}{
		{"round trip", kek, sealed, ""},
		{"wrong kek", wrong, sealed, ErrWrongKEK.Error()},
		{"short kek", kek[:16], sealed, "want 32"},
		{"tampered", kek, append(bytes.Clone(sealed[:len(sealed)-1]), sealed[len(sealed)-1]^1), ErrWrongKEK.Error()},
		{"not sealed", kek, keyDER, "unknown format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(tc.kek, tc.sealed)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				back, err := LoadCA(ca.Cert.Raw, got)
				if err != nil || !back.Key.Equal(ca.Key) {
					t.Fatalf("the CA does not load back: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestKEKFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "ca-kek")
	kek, created, err := LoadOrCreateKEK(path)
	if err != nil || !created || len(kek) != KEKSize {
		t.Fatalf("create: %v %v %d", err, created, len(kek))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	again, created, err := LoadOrCreateKEK(path)
	if err != nil || created || !bytes.Equal(again, kek) {
		t.Fatalf("reload: %v %v", err, created)
	}
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct{ name, path, want string }{
		{"hex", write("hex", []byte(strings.Repeat("0f", 32)+"\n"), 0o600), ""},
		{"world readable", write("open", kek, 0o644), "readable by others"},
		{"too short", write("short", kek[:10], 0o600), "must hold 32 raw bytes"},
		{"missing", filepath.Join(dir, "none"), "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadKEK(tc.path)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestBundle(t *testing.T) {
	ca := newTestCA(t)
	key, _ := NewKey()
	csr, _ := NewCSR(key, Identity{RoleAgent, "n1"})
	cert, _ := ca.SignCSR(csr, Identity{RoleAgent, "n1"}, t0, time.Hour)
	dir := filepath.Join(t.TempDir(), "state")
	if _, err := ReadBundle(dir); !errors.Is(err, ErrNoBundle) {
		t.Fatalf("empty dir: %v", err)
	}
	if err := WriteBundle(dir, &Bundle{Key: key, Cert: cert, CA: ca.Cert}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{KeyFile, CertFile, CAFile} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, err, fi.Mode())
		}
	}
	b, err := ReadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := b.Identity(); id != (Identity{RoleAgent, "n1"}) || !b.Key.Equal(key) {
		t.Fatalf("read back %v", id)
	}
	other, _ := NewKey()
	if err := WriteBundle(dir, &Bundle{Key: other, Cert: cert, CA: ca.Cert}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBundle(dir); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("mismatched pair: %v", err)
	}
}

func TestRenewAt(t *testing.T) {
	c := &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(100 * time.Hour)}
	cases := []struct {
		r    float64
		want time.Duration
	}{{0, 50 * time.Hour}, {0.5, 65 * time.Hour}, {0.999999, 80 * time.Hour}}
	for _, tc := range cases {
		got := RenewAt(c, tc.r).Sub(t0)
		if d := got - tc.want; d < -time.Second || d > time.Second {
			t.Errorf("r=%v: %v, want %v", tc.r, got, tc.want)
		}
	}
}
