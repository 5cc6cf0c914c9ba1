package main

import "time"

// haFlags are the control plane's flags for running several replicas: the
// embedded etcd cluster they form, and the replica's name among them.
type haFlags struct {
	ID                      string        `name:"id" env:"ZAKI_CONTROLPLANE_ID" help:"This replica's id among the control planes; each needs its own (default: --etcd-name, or the host name with --etcd-endpoints)."`
	ReplicaTTL              time.Duration `name:"replica-ttl" env:"ZAKI_REPLICA_TTL" default:"10s" help:"How long a replica that vanished (crash, partition) keeps leadership and its agents' sessions before another takes over; a clean stop hands over at once (default: ${default})."`
	EtcdName                string        `name:"etcd-name" env:"ZAKI_ETCD_NAME" default:"zaki" help:"Embedded etcd member's name, unique in its cluster (default: ${default})."`
	EtcdInitialCluster      string        `name:"etcd-initial-cluster" env:"ZAKI_ETCD_INITIAL_CLUSTER" placeholder:"NAME=URL,..." help:"Every member of a new embedded cluster, name=peer URL as each advertises it, e.g. cp1=http://cp1:2380,cp2=http://cp2:2380,cp3=http://cp3:2380; ignored once the data dir holds a member (default: this member alone)."`
	EtcdInitialClusterState string        `name:"etcd-initial-cluster-state" env:"ZAKI_ETCD_INITIAL_CLUSTER_STATE" default:"new" enum:"new,existing" help:"new forms a cluster with --etcd-initial-cluster; existing joins a running one after 'etcdctl member add' (default: ${default})."`
	EtcdClientAdvertiseURL  string        `name:"etcd-client-advertise-url" env:"ZAKI_ETCD_CLIENT_ADVERTISE_URL" help:"Client URL other replicas reach this member at, e.g. http://cp1:2379 (default: --etcd-client-url)."`
	EtcdPeerAdvertiseURL    string        `name:"etcd-peer-advertise-url" env:"ZAKI_ETCD_PEER_ADVERTISE_URL" help:"Peer URL other members reach this member at, as --etcd-initial-cluster names it, e.g. http://cp1:2380 (default: --etcd-peer-url)."`
}
