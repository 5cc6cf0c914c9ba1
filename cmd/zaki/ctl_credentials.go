package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/zaki-platform/zaki/internal/devcluster"
	"github.com/zaki-platform/zaki/internal/member"
	"github.com/zaki-platform/zaki/internal/pki"
)

// controlplaneAdminDir is where `zaki controlplane` with its default
// --data-dir writes the operator's credentials.
const controlplaneAdminDir = "zaki-data/admin"

// adminCredentials reads the operator's credentials: --credentials (or
// ZAKI_CREDENTIALS) when given, else the first of ./zaki-data/admin,
// ~/.zaki/admin (zaki ctl join) and the zaki dev directory that holds some.
func (c *ctlCmd) adminCredentials() (*member.Credentials, string, error) {
	if c.Credentials != "" {
		creds, err := member.Load(c.Credentials)
		if err != nil {
			return nil, "", fmt.Errorf("credentials in %s: %w", c.Credentials, err)
		}
		return creds, c.Credentials, nil
	}
	tried := []string{controlplaneAdminDir, workstationAdminDir(), devcluster.DefaultCredentialsDir()}
	for _, dir := range tried {
		if dir == "" {
			continue
		}
		creds, err := member.Load(dir)
		if err == nil {
			return creds, dir, nil
		}
		if !errors.Is(err, pki.ErrNoBundle) {
			return nil, "", fmt.Errorf("credentials in %s: %w", dir, err)
		}
	}
	return nil, "", fmt.Errorf("no credentials found in %s: pass --credentials DIR (or set ZAKI_CREDENTIALS), "+
		"run `zaki ctl --controlplane ADDR join --token T` with an admin token, "+
		"or run on the control plane host, which writes them to <data-dir>/admin",
		strings.Join(tried, " or "))
}
