package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// checkCtlJoin: an operator's workstation joins with an admin token through
// `zaki ctl join`, and its own credentials then work for the admin API.
func (c *cluster) checkCtlJoin() {
	c.t.Helper()
	token := c.joinToken("admin")
	dir := filepath.Join(c.t.TempDir(), "admin")
	join := exec.Command(zakiBinary(c.t), "ctl", "--controlplane", c.grpcAddr, "join", "--dir", dir, "--token", token)
	out, err := join.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Joined as zaki://admin/") {
		c.t.Fatalf("zaki ctl join: %v\n%s", err, out)
	}
	if strings.Contains(string(out), token) {
		c.t.Fatalf("zaki ctl join printed the token:\n%s", out)
	}
	nodes := exec.Command(zakiBinary(c.t), "ctl", "--controlplane", c.grpcAddr, "--credentials", dir, "nodes")
	if out, err := nodes.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "NODE ") {
		c.t.Fatalf("zaki ctl nodes with the joined credentials: %v\n%s", err, out)
	}
	again := exec.Command(zakiBinary(c.t), "ctl", "--controlplane", c.grpcAddr, "join", "--dir", dir, "--token", token)
	if out, err := again.CombinedOutput(); err == nil || !strings.Contains(string(out), "already holds credentials") {
		c.t.Fatalf("a second join into the same dir: %v\n%s", err, out)
	}
}
