package controlplane

import (
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// Config configures a control plane. Every zero field means its documented
// default.
type Config struct {
	// DataDir is the embedded etcd's data directory, used when EtcdEndpoints
	// is empty. Required then.
	DataDir string
	// EtcdEndpoints are the client URLs of an external etcd cluster; empty
	// means run etcd embedded in this process.
	EtcdEndpoints []string
	// EtcdClientURL is the embedded etcd's client listen URL; default
	// "http://127.0.0.1:2379".
	EtcdClientURL string
	// EtcdPeerURL is the embedded etcd's peer listen URL; default
	// "http://127.0.0.1:2380".
	EtcdPeerURL string
	// EtcdClientAdvertiseURL and EtcdPeerAdvertiseURL are the URLs other
	// members and replicas reach this member at; default the listen URLs.
	// etcd listens only on IPs, so in a container one listens on 0.0.0.0
	// and advertises a name (http://cp1:2380).
	EtcdClientAdvertiseURL string
	EtcdPeerAdvertiseURL   string
	// EtcdName is the embedded member's name; default "zaki".
	EtcdName string
	// EtcdInitialCluster is every member of a new embedded cluster,
	// "name=peer-url,..." (etcd's --initial-cluster); default this member
	// alone. Ignored once the data dir holds a member.
	EtcdInitialCluster string
	// EtcdInitialClusterState is "new" (default) to form a cluster, or
	// "existing" to join one that already runs (after `etcdctl member add`).
	EtcdInitialClusterState string

	// ID names this replica among the control planes; default EtcdName with
	// embedded etcd, else the host name. Replicas must not share one.
	ID string
	// ReplicaTTL is how long this replica's leadership, registration and the
	// liveness keys of its agents outlive it when it stops without saying so
	// (a crash, a partition); default 10s, at least 1s. A clean stop gives
	// them up at once.
	ReplicaTTL time.Duration
	// GRPCListen is the gRPC listen address; default "127.0.0.1:7400". Port 0
	// picks a free port (see Server.Addr).
	GRPCListen string
	// HeartbeatPeriod is told to agents in Welcome; default 5s. A node missing
	// three periods loses its session.
	HeartbeatPeriod time.Duration
	// ProgressInterval bounds the silence on a WatchRoutes stream; default 5s.
	ProgressInterval time.Duration
	// DefaultProfile is the assistant profile of new tenants; default "openclaw".
	DefaultProfile string
	// Logger; nil means hclog.NewNullLogger().
	Logger hclog.Logger
	// Registry receives the control plane's metrics; nil means a private one.
	Registry *prometheus.Registry
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// MissedHeartbeats is how many heartbeat periods a node may stay silent
	// before its session ends and it is marked DOWN; default 3.
	MissedHeartbeats int
	// UnknownGrace is how long after this control plane starts, or a new
	// leader takes over, a node not heard from since stays UNKNOWN before it
	// may be marked DOWN; default 5x the down timeout (MissedHeartbeats x
	// HeartbeatPeriod).
	UnknownGrace time.Duration
	// RegisterInterval and RegisterBurst limit each node's re-registrations:
	// a burst, then one per interval; defaults HeartbeatPeriod and 5.
	RegisterInterval time.Duration
	RegisterBurst    int
	// PortCooldown is how long a released host port stays unused; default 2m.
	PortCooldown time.Duration
	// SchedulerPolicy picks among the nodes that fit; default BINPACK.
	SchedulerPolicy zakiv1.SchedulerPolicy

	// Trust (trust.go). CAKeyFile is the key-encryption key of the cluster
	// CA's private key: 32 bytes, mode 0600. Default <DataDir>/ca-kek, made
	// on first start; required with EtcdEndpoints.
	CAKeyFile string
	// AdvertiseNames are extra DNS names or IPs in the server certificate,
	// the first also the address `zaki ctl token create` tells joiners to
	// dial (with GRPCListen's port). Default none.
	AdvertiseNames []string
	// CertLifetime is how long a member's certificate is valid; default 30
	// days. Members renew at a random point between 50% and 80% of it.
	CertLifetime time.Duration
	// AdminDir receives the operator's credentials for zaki ctl; default
	// <DataDir>/admin. Empty with an external etcd and no DataDir: none.
	AdminDir string

	// unsafeNoFsync makes the embedded etcd skip fsync; tests only.
	unsafeNoFsync bool
	// profiles replaces profile.Lookup; tests only.
	profiles profileLookup
	// pendingRetry is how often PENDING placements are retried; default 3s.
	pendingRetry time.Duration
	// etcdProbe is how often this replica checks that etcd answers (a probe
	// may take as long again); default 1s. etcdgate.go.
	etcdProbe time.Duration
	// etcdWaitLog is how often a member waiting for its quorum says so;
	// default 10s.
	etcdWaitLog time.Duration
	// etcdHardStop skips the embedded member's hand-over of etcd leadership
	// when it closes, which waits out its request timeout when the other
	// members are closing too, as when a test stops a whole cluster; tests
	// only.
	etcdHardStop bool
}

const (
	defaultEtcdClientURL = "http://127.0.0.1:2379"
	defaultEtcdPeerURL   = "http://127.0.0.1:2380"
	defaultEtcdName      = "zaki"
	defaultReplicaTTL    = 10 * time.Second
	defaultEtcdProbe     = time.Second
	defaultGRPCListen    = "127.0.0.1:7400"
	defaultProfile       = "openclaw"
	defaultTier          = "free"
	// fallbackWebhookPath is the route's webhook path when a tenant's profile
	// is not known to this binary.
	fallbackWebhookPath = "/telegram-webhook"
	// missedHeartbeats is how many periods a session may stay silent.
	missedHeartbeats = 3
	// protocolVersion is the agent session protocol this control plane speaks.
	protocolVersion = 1
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.EtcdClientURL == "" {
		c.EtcdClientURL = defaultEtcdClientURL
	}
	if c.EtcdPeerURL == "" {
		c.EtcdPeerURL = defaultEtcdPeerURL
	}
	c = c.etcdDefaults().replicaDefaults()
	if c.GRPCListen == "" {
		c.GRPCListen = defaultGRPCListen
	}
	if c.HeartbeatPeriod <= 0 {
		c.HeartbeatPeriod = 5 * time.Second
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = 5 * time.Second
	}
	if c.DefaultProfile == "" {
		c.DefaultProfile = defaultProfile
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c = c.trustDefaults()
	if c.pendingRetry <= 0 {
		c.pendingRetry = 3 * time.Second
	}
	return c.fleetDefaults()
}
