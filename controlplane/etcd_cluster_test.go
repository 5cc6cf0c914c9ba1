package controlplane

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zaki-platform/zaki/internal/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

// TestEmbeddedClusterOfThree: three members started at once on loopback
// form one cluster, and a client of one member learns the others' URLs.
func TestEmbeddedClusterOfThree(t *testing.T) {
	cfgs := make([]Config, 3)
	var peers []string
	for i := range cfgs {
		cfgs[i] = Config{DataDir: t.TempDir(), EtcdName: fmt.Sprintf("m%d", i+1),
			EtcdClientURL: fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)),
			EtcdPeerURL:   fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)),
			unsafeNoFsync: true}
		peers = append(peers, cfgs[i].EtcdName+"="+cfgs[i].EtcdPeerURL)
	}
	members := make([]*embed.Etcd, 3)
	urls := make([]etcdMember, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range cfgs {
		cfgs[i].EtcdInitialCluster = strings.Join(peers, ",")
		cfgs[i] = cfgs[i].withDefaults()
		wg.Go(func() {
			members[i], urls[i], errs[i] = startEmbedded(context.Background(), cfgs[i], newEtcdLog(hclog.NewNullLogger()))
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, m := range members {
			if m != nil {
				wg.Go(func() { m.Server.HardStop(); m.Close() }) // no hand-over: all stop at once
			}
		}
		wg.Wait()
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d: %v", i+1, err)
		}
	}
	ids := map[uint64]bool{}
	for _, m := range members {
		ids[uint64(m.Server.Cluster().ID())] = true
	}
	if len(ids) != 1 {
		t.Fatalf("the members are in %d clusters, want 1", len(ids))
	}

	cli, err := newEtcdClient(testCtx(t), []string{urls[0].localClientURL()}, true, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if eps := cli.Endpoints(); len(eps) != 3 {
		t.Fatalf("the client of member 1 knows %v, want all three members", eps)
	}
	resp, err := cli.MemberList(testCtx(t))
	if err != nil || len(resp.Members) != 3 {
		t.Fatalf("member list: %v %v", resp, err)
	}
	if _, err := cli.Put(testCtx(t), "/zaki/v1/test", "x"); err != nil {
		t.Fatal(err)
	}
	other, err := clientv3.New(clientv3.Config{Endpoints: []string{cfgs[2].EtcdClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got, err := other.Get(testCtx(t), "/zaki/v1/test"); err != nil || len(got.Kvs) != 1 {
		t.Fatalf("member 3 does not see member 1's write: %v %v", got, err)
	}
}

func TestEmbeddedMemberErrors(t *testing.T) {
	base := Config{EtcdName: "cp1", EtcdClientURL: "http://0.0.0.0:2379", EtcdPeerURL: "http://0.0.0.0:2380",
		EtcdClientAdvertiseURL: "http://cp1:2379", EtcdPeerAdvertiseURL: "http://cp1:2380",
		EtcdInitialCluster: "cp1=http://cp1:2380,cp2=http://cp2:2380,cp3=http://cp3:2380"}
	cases := []struct {
		name string
		mod  func(*Config)
		want string // "" for no error
	}{
		{"three replicas in containers", func(*Config) {}, ""},
		{"alone by default", func(c *Config) {
			*c = Config{EtcdClientURL: "http://127.0.0.1:2379", EtcdPeerURL: "http://127.0.0.1:2380"}
		}, ""},
		{"listen on a name", func(c *Config) { c.EtcdPeerURL = "http://cp1:2380" },
			"--etcd-peer-url is \"http://cp1:2380\": etcd listens only on an IP address; listen on 0.0.0.0 " +
				"or this host's IP and put the name in --etcd-peer-advertise-url"},
		{"advertise the wildcard", func(c *Config) { c.EtcdClientAdvertiseURL = "" },
			"--etcd-client-advertise-url is \"http://0.0.0.0:2379\", which nobody can dial"},
		{"not in the cluster", func(c *Config) { c.EtcdName = "cp4" },
			"--etcd-initial-cluster does not name this member (--etcd-name cp4): add cp4=http://cp1:2380"},
		{"another peer URL", func(c *Config) { c.EtcdPeerAdvertiseURL = "http://10.0.0.1:2380" },
			"gives member cp1 the peer URL http://cp1:2380, but it advertises http://10.0.0.1:2380"},
		{"a name twice", func(c *Config) { c.EtcdInitialCluster += ",cp2=http://cp9:2380" },
			"names member \"cp2\" twice"},
		{"no URL", func(c *Config) { c.EtcdInitialCluster = "cp1" }, "entry \"cp1\": want name=http://host:2380"},
		{"https", func(c *Config) { c.EtcdClientURL = "https://0.0.0.0:2379" }, "want http://HOST:PORT"},
		{"no port", func(c *Config) { c.EtcdClientURL = "http://0.0.0.0" }, "want http://HOST:PORT"},
		{"bad state", func(c *Config) { c.EtcdInitialClusterState = "joining" },
			"--etcd-initial-cluster-state is \"joining\": use new"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mod(&cfg)
			_, err := cfg.withDefaults().embeddedMember()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestLocalClientURL(t *testing.T) {
	cfg := Config{EtcdClientURL: "http://0.0.0.0:2379", EtcdPeerURL: "http://0.0.0.0:2380",
		EtcdClientAdvertiseURL: "http://cp1:2379", EtcdPeerAdvertiseURL: "http://cp1:2380"}.withDefaults()
	m, err := cfg.embeddedMember()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.localClientURL(); got != "http://127.0.0.1:2379" {
		t.Fatalf("local client URL %s", got)
	}
	if got := m.initialCluster(); got != "zaki=http://cp1:2380" {
		t.Fatalf("default initial cluster %s", got)
	}
}

// TestMemberWaitsForItsQuorum: a member of a new three-member cluster
// started alone waits, says which peers do not answer, and stops waiting
// when told to.
func TestMemberWaitsForItsQuorum(t *testing.T) {
	var logs testutil.SyncBuffer
	peer := func() string { return fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)) }
	cfg := Config{DataDir: t.TempDir(), EtcdName: "m1", EtcdClientURL: peer(), EtcdPeerURL: peer(),
		unsafeNoFsync: true, etcdWaitLog: 50 * time.Millisecond,
		Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})}
	m2, m3 := peer(), peer()
	cfg.EtcdInitialCluster = "m1=" + cfg.EtcdPeerURL + ",m2=" + m2 + ",m3=" + m3
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		e, _, err := startEmbedded(ctx, cfg.withDefaults(), newEtcdLog(hclog.NewNullLogger()))
		if e != nil {
			e.Close()
		}
		done <- err
	}()
	eventually(t, "the wait logged", func() bool {
		out := logs.String()
		return strings.Contains(out, "waiting for an etcd quorum") && strings.Contains(out, "need=2") &&
			strings.Contains(out, "m2="+m2) && strings.Contains(out, "m3="+m3)
	})
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "stopped while waiting for its quorum") {
			t.Fatalf("start without a quorum: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("startEmbedded did not return after its context ended")
	}
}
