// Package samples carries the sample conversation Zaki plays in `zaki dev` and
// tests route: a copy of the shared baseline of realistic Telegram updates.
package samples

import (
	"bufio"
	"bytes"
	_ "embed"
)

//go:embed updates.jsonl
var updatesJSONL []byte

// Updates returns the sample updates, one raw JSON body each, in the order a
// shared bot would receive them. The bytes are exactly as in the file.
func Updates() [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(updatesJSONL))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		out = append(out, append([]byte(nil), line...))
	}
	return out
}

// ExpectedTenant is the tenant each sample update belongs to, from the shared
// baseline's table; "" means unroutable (answered 2xx, counted, delivered nowhere).
// The group's tenant keeps the id of the group it was made for, also after the
// group migrates to a supergroup.
var ExpectedTenant = map[int64]string{
	910000001: "5010000001", 910000003: "5010000001", 910000006: "5010000001",
	910000007: "5010000001", 910000014: "5010000001",
	910000002: "5010000002", 910000005: "5010000002", 910000008: "5010000002",
	910000015: "5010000002",
	910000004: "7300000003", 910000009: "7300000003",
	910000010: "-4010000001", 910000011: "-4010000001", 910000012: "-4010000001",
	910000016: "-4010000001", 910000017: "-4010000001",
	910000013: "",
}
