package controlplane

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zaki-platform/zaki/internal/pki"
	"github.com/zaki-platform/zaki/internal/testutil"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// replicaSet is n control planes in this process forming one embedded etcd
// cluster, each with its own data dir, ports and clock, and one shared
// key-encryption key.
type replicaSet struct {
	t       *testing.T
	servers []*Server
	clocks  []*fakeClock
	cancels []context.CancelFunc
	stopped []bool
}

// startReplicas starts n replicas at once, each with an embedded member of
// one etcd cluster (each waits for the others' quorum), and stops the ones
// still running when the test ends.
func startReplicas(t *testing.T, n int, mods ...func(*Config)) *replicaSet {
	t.Helper()
	return startReplicaSet(t, n, "", mods...)
}

// startReplicasOn starts n replicas sharing the external etcd at endpoint:
// stopping one then closes no etcd member, which takes seconds while
// others watch through it.
func startReplicasOn(t *testing.T, endpoint string, n int, mods ...func(*Config)) *replicaSet {
	t.Helper()
	return startReplicaSet(t, n, endpoint, mods...)
}

func startReplicaSet(t *testing.T, n int, endpoint string, mods ...func(*Config)) *replicaSet {
	t.Helper()
	kek := filepath.Join(t.TempDir(), "ca-kek")
	if _, _, err := pki.LoadOrCreateKEK(kek); err != nil {
		t.Fatal(err)
	}
	rs := &replicaSet{t: t, servers: make([]*Server, n), cancels: make([]context.CancelFunc, n),
		stopped: make([]bool, n)}
	cfgs := make([]Config, n)
	var peers []string
	for i := range n {
		clock := newFakeClock()
		rs.clocks = append(rs.clocks, clock)
		cfgs[i] = testConfig(t, append([]func(*Config){func(c *Config) {
			c.EtcdName = fmt.Sprintf("cp%d", i+1)
			c.CAKeyFile = kek
			c.ReplicaTTL = 2 * time.Second
			c.Now = clock.Now
			c.etcdProbe = 200 * time.Millisecond
			c.etcdHardStop = true
			if endpoint != "" {
				c.EtcdEndpoints = []string{endpoint}
				c.ID = c.EtcdName
			}
		}}, mods...)...)
		peers = append(peers, cfgs[i].EtcdName+"="+cfgs[i].EtcdPeerURL)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cfgs[i].EtcdInitialCluster = strings.Join(peers, ",")
		ctx, cancel := context.WithCancel(context.Background())
		rs.cancels[i] = cancel
		wg.Go(func() { rs.servers[i], errs[i] = Start(ctx, cfgs[i]) })
	}
	wg.Wait()
	t.Cleanup(rs.stopAll)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start replica %d: %v", i+1, err)
		}
	}
	return rs
}

// kill stops replica i without waiting for it: an embedded etcd member
// takes seconds to close while other replicas watch through it. The test's
// end waits.
func (rs *replicaSet) kill(i int) {
	rs.cancels[i]()
	rs.stopped[i] = true
}

// stopAll stops every replica at once and waits for them: one by one, the
// last would wait out a lost quorum.
func (rs *replicaSet) stopAll() {
	var wg sync.WaitGroup
	for i, s := range rs.servers {
		rs.cancels[i]()
		if s == nil {
			continue
		}
		wg.Go(func() {
			if err := s.Wait(); err != nil {
				rs.t.Errorf("replica %d: %v", i+1, err)
			}
		})
	}
	wg.Wait()
}

// leader waits (bounded) until exactly one running replica leads, and
// returns its index.
func (rs *replicaSet) leader() int {
	rs.t.Helper()
	found := -1
	eventually(rs.t, "exactly one leader", func() bool {
		found = rs.leading()
		return found >= 0
	})
	return found
}

// leading is the index of the one running replica that leads; -1 when none
// or several do.
func (rs *replicaSet) leading() int {
	found := -1
	for i, s := range rs.servers {
		if rs.stopped[i] || !s.rep.leading() {
			continue
		}
		if found >= 0 {
			return -1
		}
		found = i
	}
	return found
}

// others are the running replicas but i.
func (rs *replicaSet) others(i int) []int {
	var out []int
	for j := range rs.servers {
		if j != i && !rs.stopped[j] {
			out = append(out, j)
		}
	}
	return out
}

// startTestEtcd runs a single-member etcd in dir on the given URLs, apart
// from any control plane, until stop or the test's end.
func startTestEtcd(t *testing.T, dir, clientURL, peerURL string) (stop func()) {
	t.Helper()
	cu, err := url.Parse(clientURL)
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(peerURL)
	if err != nil {
		t.Fatal(err)
	}
	ec := embed.NewConfig()
	ec.Name, ec.Dir, ec.LogLevel, ec.UnsafeNoFsync = "test", dir, "error", true
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	e, err := embed.StartEtcd(ec)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		t.Fatal("test etcd not ready")
	}
	var once sync.Once
	stop = func() { once.Do(e.Close) }
	t.Cleanup(stop)
	return stop
}

// testEtcdURLs are free loopback client and peer URLs.
func testEtcdURLs(t *testing.T) (client, peer string) {
	return fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)),
		fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t))
}

// cutProxy forwards TCP to target until cut, which closes every connection
// and refuses new ones, as a partition would, until heal.
type cutProxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	p := &cutProxy{t: t, addr: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), target: target,
		conns: map[net.Conn]bool{}}
	p.heal()
	t.Cleanup(func() { p.cut(); p.wg.Wait() })
	return p
}

// heal listens again.
func (p *cutProxy) heal() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.pipe(c) })
		}
	})
}

func (p *cutProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

// track records a proxied pair; false (both closed) when the proxy is cut.
func (p *cutProxy) track(c, up net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		up.Close()
		return false
	}
	p.conns[c], p.conns[up] = true, true
	return true
}

// cut closes the listener and every connection.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}
