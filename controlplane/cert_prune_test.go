package controlplane

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestPruneCertRecords(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s := startServer(t, func(c *Config) { c.Now = func() time.Time { return now } })
	ctx := testCtx(t)
	old := now.Add(-certRecordSlack - time.Hour).Format(time.RFC3339)
	recent := now.Add(-time.Hour).Format(time.RFC3339)
	live := now.Add(time.Hour).Format(time.RFC3339)
	records := map[string]string{
		issuedPrefix + "node-a/01": "agent " + old,
		issuedPrefix + "node-a/02": "agent " + recent,
		issuedPrefix + "node-b/03": "agent " + live,
		issuedPrefix + "legacy/04": old, // written before roles were kept
		issuedPrefix + "broken/05": "agent not-a-time",
		revokedPrefix + "06":       "node-c " + old,
		revokedPrefix + "07":       "node-c " + live,
		revokedPrefix + "08":       "no-expiry",
	}
	for k, v := range records {
		if _, err := s.cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Controller.pruneCertRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("pruned %d records, want 3 (01, 04, 06)", n)
	}
	for k := range records {
		resp, err := s.cli.Get(ctx, k, clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		gone := resp.Count == 0
		wantGone := k == issuedPrefix+"node-a/01" || k == issuedPrefix+"legacy/04" || k == revokedPrefix+"06"
		if gone != wantGone {
			t.Errorf("%s: gone=%v, want %v", k, gone, wantGone)
		}
	}
	// A second pass has nothing left to do.
	if n, err := s.Controller.pruneCertRecords(ctx); err != nil || n != 0 {
		t.Errorf("second pass pruned %d (%v), want 0", n, err)
	}
}
