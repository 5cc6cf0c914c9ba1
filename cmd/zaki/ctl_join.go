package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zaki-platform/zaki/internal/member"
	"github.com/zaki-platform/zaki/internal/pki"
)

// ctlJoinCmd is `zaki ctl join`: an operator's workstation joins with an
// admin token, as a host does with an agent token, and keeps the
// credentials where every later `zaki ctl` finds them.
type ctlJoinCmd struct {
	Token string `name:"token" env:"ZAKI_CTL_JOIN_TOKEN" required:"" help:"An admin join token, from 'zaki ctl token create --role admin' where credentials already exist (default: none, required). It is never logged."`
	Dir   string `name:"dir" env:"ZAKI_CTL_JOIN_DIR" placeholder:"DIR" help:"Where to keep the credentials (default: ~/.zaki/admin, where zaki ctl looks for them)."`
}

func (j *ctlJoinCmd) Run(ctx context.Context, c *ctlCmd) error {
	dir := j.Dir
	if dir == "" {
		dir = workstationAdminDir()
		if dir == "" {
			return fmt.Errorf("no home directory to keep the credentials in: pass --dir DIR")
		}
	}
	if _, err := member.Load(dir); err == nil {
		return fmt.Errorf("%s already holds credentials: pass another --dir, or remove it to join again", dir)
	}
	c.defaultControlPlane()
	// The join bounds its own call (internal/member).
	creds, err := member.Ensure(ctx, member.Options{Dir: dir, Role: pki.RoleAdmin,
		JoinAddr: c.ControlPlane, Token: j.Token})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "Joined as %s; credentials in %s (certificate valid until %s).\n",
		creds.Identity(), dir, creds.Bundle().Cert.NotAfter.Local().Format("2006-01-02 15:04"))
	// The addresses are kept with the credentials, and zaki ctl uses them.
	next := "zaki ctl nodes"
	if dir != workstationAdminDir() {
		next = "zaki ctl --credentials " + dir + " nodes"
	}
	_, err = fmt.Fprintf(os.Stdout, "Next: %s   (it calls %s)\n", next, c.ControlPlane)
	return err
}

// workstationAdminDir is where `zaki ctl join` keeps an operator's
// credentials by default; "" without a home directory.
func workstationAdminDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".zaki", "admin")
}
