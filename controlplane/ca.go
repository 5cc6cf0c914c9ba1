package controlplane

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/zaki-platform/zaki/internal/pki"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The cluster CA in etcd. The certificate is plain DER; the private key is
// PKCS#8 DER sealed with AES-256-GCM under the key-encryption key, which
// never enters etcd, so an etcd backup alone cannot mint certificates.
const (
	pkiPrefix    = prefix + "pki/"
	caPrefix     = pkiPrefix + "ca/"
	caCertKey    = caPrefix + "cert"       // DER
	caKeySealKey = caPrefix + "key.sealed" // pki.Seal(kek, PKCS#8 DER)
)

// kekFileName is the default key-encryption key file in the data directory.
const kekFileName = "ca-kek"

// loadKEK reads the key-encryption key: cfg.CAKeyFile, or with embedded etcd
// <DataDir>/ca-kek, made on first start. An external etcd needs the file
// named: a default beside nothing in particular would be lost or copied
// with the wrong things.
func loadKEK(cfg Config) ([]byte, string, error) {
	if cfg.CAKeyFile != "" {
		kek, err := pki.ReadKEK(cfg.CAKeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("cluster CA: %w (--ca-key-file)", err)
		}
		return kek, cfg.CAKeyFile, nil
	}
	if len(cfg.EtcdEndpoints) > 0 || cfg.DataDir == "" {
		return nil, "", errors.New("cluster CA: with an external etcd, name the CA's key-encryption key file " +
			"with --ca-key-file or ZAKI_CA_KEY_FILE (32 random bytes, mode 0600, e.g. " +
			"`head -c 32 /dev/urandom > ca-kek && chmod 600 ca-kek`), the same file on every control plane")
	}
	path := filepath.Join(cfg.DataDir, kekFileName)
	kek, created, err := pki.LoadOrCreateKEK(path)
	if err != nil {
		return nil, "", fmt.Errorf("cluster CA: %w", err)
	}
	if created {
		cfg.Logger.Info("made the CA's key-encryption key: keep a copy off this host, apart from etcd backups",
			"path", path)
	}
	return kek, path, nil
}

// loadOrCreateCA loads the cluster CA from etcd, or makes it when there is
// none. Control planes starting together race in one transaction: the
// losers load the winner's CA, which they can only open with the same
// key-encryption key (kekPath names theirs, for the error). An existing CA
// is never replaced.
func loadOrCreateCA(ctx context.Context, cli *clientv3.Client, kek []byte, kekPath string, now time.Time,
) (*pki.CA, bool, error) {
	resp, err := cli.Get(ctx, caPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, false, fmt.Errorf("%w: read the cluster CA: %v", errUnavailable, err)
	}
	if ca, err := caFrom(resp.Kvs, kek, kekPath); ca != nil || err != nil {
		return ca, false, err
	}
	ca, err := pki.NewCA(now)
	if err != nil {
		return nil, false, err
	}
	keyDER, err := pki.MarshalKey(ca.Key)
	if err != nil {
		return nil, false, err
	}
	sealed, err := pki.Seal(kek, keyDER)
	if err != nil {
		return nil, false, err
	}
	txn, err := cli.Txn(ctx).If(absent(caCertKey)).
		Then(clientv3.OpPut(caCertKey, string(ca.Cert.Raw)), clientv3.OpPut(caKeySealKey, string(sealed))).
		Else(clientv3.OpGet(caPrefix, clientv3.WithPrefix())).Commit()
	if err != nil {
		return nil, false, fmt.Errorf("%w: store the cluster CA: %v", errUnavailable, err)
	}
	if txn.Succeeded {
		return ca, true, nil
	}
	ca, err = caFrom(txn.Responses[0].GetResponseRange().Kvs, kek, kekPath)
	if err == nil && ca == nil {
		err = errors.New("cluster CA: lost a race to create it, then found none")
	}
	return ca, false, err
}

// caFrom builds the CA from the pki keys; nil, nil when there is none yet.
func caFrom(kvs []*mvccpb.KeyValue, kek []byte, kekPath string) (*pki.CA, error) {
	var certDER, sealed []byte
	for _, kv := range kvs {
		switch string(kv.Key) {
		case caCertKey:
			certDER = kv.Value
		case caKeySealKey:
			sealed = kv.Value
		}
	}
	if certDER == nil {
		return nil, nil
	}
	keyDER, err := pki.Open(kek, sealed)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: cannot decrypt its key from etcd with the key-encryption key in %s "+
			"(%w): every control plane of a cluster must use the same one. Copy the ca-kek of the control plane "+
			"that made the CA (its <data-dir>/ca-kek, or its --ca-key-file) to %s, or point --ca-key-file "+
			"(ZAKI_CA_KEY_FILE) at a shared copy", kekPath, err, kekPath)
	}
	return pki.LoadCA(certDER, keyDER)
}
