package controlplane

import (
	"strings"
	"testing"
	"time"
)

func TestCheckReplicaID(t *testing.T) {
	for _, id := range []string{"cp1", "zaki", "host-1.example.com", "CP_2"} {
		if err := checkReplicaID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", "cp 1", "cp/1", strings.Repeat("x", 64)} {
		if err := checkReplicaID(id); err == nil || !strings.Contains(err.Error(), "--id") {
			t.Errorf("%q: %v, want an error naming --id", id, err)
		}
	}
}

func TestTTLSeconds(t *testing.T) {
	for d, want := range map[int64]int{0: 1, 1: 1, 1000: 1, 1001: 2, 10000: 10} {
		if got := ttlSeconds(msDuration(d)); got != want {
			t.Errorf("ttlSeconds(%dms) = %d, want %d", d, got, want)
		}
	}
}

func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
