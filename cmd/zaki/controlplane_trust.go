package main

import "time"

// trustFlags are the control plane's flags for the cluster CA and the
// certificates it issues.
type trustFlags struct {
	CAKeyFile      string        `name:"ca-key-file" env:"ZAKI_CA_KEY_FILE" help:"Key-encryption key of the cluster CA's private key (32 random bytes, mode 0600). Keep a copy off this host, apart from etcd backups. Required with --etcd-endpoints (default: <data-dir>/ca-kek, made on first start)."`
	AdvertiseNames []string      `name:"advertise-name" env:"ZAKI_ADVERTISE_NAMES" help:"Names or IPs agents and routers reach this control plane at; added to its certificate, and the first is printed in join commands (default: none, the --grpc-listen address)."`
	CertLifetime   time.Duration `name:"cert-lifetime" env:"ZAKI_CERT_LIFETIME" default:"720h" help:"Lifetime of agent and router certificates; they renew between 50% and 80% of it (default: ${default}, 30 days)."`
}
