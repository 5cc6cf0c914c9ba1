package controlplane

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// The embedded etcd cluster: who its members are, and the URLs this member
// listens on and advertises. Three control planes, each with
// --etcd-initial-cluster naming all three, form one cluster; etcd itself
// keeps the membership once the data dirs hold it.

// etcdDefaults sets the embedded member's defaults: the advertise URLs are
// the listen URLs, and the initial cluster is this member alone.
func (c Config) etcdDefaults() Config {
	if c.EtcdName == "" {
		c.EtcdName = defaultEtcdName
	}
	if c.EtcdClientAdvertiseURL == "" {
		c.EtcdClientAdvertiseURL = c.EtcdClientURL
	}
	if c.EtcdPeerAdvertiseURL == "" {
		c.EtcdPeerAdvertiseURL = c.EtcdPeerURL
	}
	if c.EtcdInitialCluster == "" {
		c.EtcdInitialCluster = c.EtcdName + "=" + c.EtcdPeerAdvertiseURL
	}
	if c.EtcdInitialClusterState == "" {
		c.EtcdInitialClusterState = embed.ClusterStateFlagNew
	}
	if c.etcdWaitLog <= 0 {
		c.etcdWaitLog = defaultEtcdWaitLog
	}
	return c
}

// etcdMember is the embedded member's checked configuration.
type etcdMember struct {
	listenClient, listenPeer       url.URL
	advertiseClient, advertisePeer url.URL
	// peers are the initial cluster's members, name -> peer URL.
	peers map[string]string
}

// embeddedMember checks the embedded etcd's settings of c (with defaults
// applied) and returns them parsed. Every error names the flag to fix.
func (c Config) embeddedMember() (etcdMember, error) {
	var m etcdMember
	var err error
	urls := []struct {
		dst    *url.URL
		raw    string
		flag   string
		listen bool
	}{
		{&m.listenClient, c.EtcdClientURL, "--etcd-client-url", true},
		{&m.listenPeer, c.EtcdPeerURL, "--etcd-peer-url", true},
		{&m.advertiseClient, c.EtcdClientAdvertiseURL, "--etcd-client-advertise-url", false},
		{&m.advertisePeer, c.EtcdPeerAdvertiseURL, "--etcd-peer-advertise-url", false},
	}
	for _, u := range urls {
		if *u.dst, err = parseEtcdURL(u.raw, u.flag, u.listen); err != nil {
			return m, err
		}
	}
	if m.peers, err = parseInitialCluster(c.EtcdInitialCluster); err != nil {
		return m, err
	}
	if err := checkSelfInCluster(c.EtcdName, m.advertisePeer.String(), m.peers); err != nil {
		return m, err
	}
	switch c.EtcdInitialClusterState {
	case embed.ClusterStateFlagNew, embed.ClusterStateFlagExisting:
	default:
		return m, fmt.Errorf("%w: --etcd-initial-cluster-state is %q: use new (form a cluster) or "+
			"existing (join a running one)", errInvalid, c.EtcdInitialClusterState)
	}
	return m, nil
}

// parseEtcdURL checks one etcd URL. etcd listens only on an IP (or
// localhost), and a wildcard IP is no place for others to reach it.
func parseEtcdURL(raw, flag string, listen bool) (url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Port() == "" || u.Path != "" && u.Path != "/" {
		return url.URL{}, fmt.Errorf("%w: %s is %q: want http://HOST:PORT (the embedded etcd speaks plain "+
			"HTTP; keep its ports on a private network)", errInvalid, flag, raw)
	}
	u.Path = ""
	ip := net.ParseIP(u.Hostname())
	switch {
	case listen && ip == nil && u.Hostname() != "localhost":
		return url.URL{}, fmt.Errorf("%w: %s is %q: etcd listens only on an IP address; listen on 0.0.0.0 "+
			"or this host's IP and put the name in %s-advertise-url", errInvalid, flag, raw,
			strings.TrimSuffix(flag, "-url"))
	case !listen && ip != nil && ip.IsUnspecified():
		return url.URL{}, fmt.Errorf("%w: %s is %q, which nobody can dial: it defaults to the listen URL; "+
			"set it to the address other control planes reach this one at, e.g. http://cp1:%s",
			errInvalid, flag, raw, u.Port())
	}
	return *u, nil
}

// parseInitialCluster reads "name=http://host:port,...".
func parseInitialCluster(s string) (map[string]string, error) {
	out := map[string]string{}
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		name, raw, ok := strings.Cut(entry, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: --etcd-initial-cluster entry %q: want name=http://host:2380",
				errInvalid, entry)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%w: --etcd-initial-cluster names member %q twice: give each control "+
				"plane its own --etcd-name", errInvalid, name)
		}
		u, err := parseEtcdURL(raw, "--etcd-initial-cluster member "+name, false)
		if err != nil {
			return nil, err
		}
		out[name] = u.String()
	}
	return out, nil
}

// checkSelfInCluster makes sure the initial cluster names this member at
// the peer URL it advertises, which etcd requires.
func checkSelfInCluster(name, peerURL string, peers map[string]string) error {
	got, ok := peers[name]
	switch {
	case !ok:
		return fmt.Errorf("%w: --etcd-initial-cluster does not name this member (--etcd-name %s): add %s=%s",
			errInvalid, name, name, peerURL)
	case got != peerURL:
		return fmt.Errorf("%w: --etcd-initial-cluster gives member %s the peer URL %s, but it advertises %s "+
			"(--etcd-peer-advertise-url, default --etcd-peer-url): make them the same", errInvalid, name, got, peerURL)
	}
	return nil
}

// initialCluster is peers in etcd's --initial-cluster form, sorted by name.
func (m etcdMember) initialCluster() string {
	var parts []string
	for _, name := range sortedKeys(m.peers) {
		parts = append(parts, name+"="+m.peers[name])
	}
	return strings.Join(parts, ",")
}

// localClientURL is where this process reaches its own member: the listen
// URL, with a wildcard host made loopback.
func (m etcdMember) localClientURL() string {
	u := m.listenClient
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	}
	return u.String()
}

// silentPeers are the other members whose peer port does not accept a
// connection now, "name=url (why)", for the log of a member waiting for its
// quorum.
func (m etcdMember) silentPeers(ctx context.Context, self string) []string {
	var out []string
	d := net.Dialer{Timeout: time.Second}
	for _, name := range sortedKeys(m.peers) {
		if name == self {
			continue
		}
		u, _ := url.Parse(m.peers[name]) // checked by parseInitialCluster
		conn, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			out = append(out, fmt.Sprintf("%s=%s (%v)", name, m.peers[name], err))
			continue
		}
		conn.Close()
	}
	return slices.Clip(out)
}
