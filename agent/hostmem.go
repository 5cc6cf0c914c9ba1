package agent

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// hostShare is the part of the host's memory offered to tenants by default;
// the rest is left to the kernel, Docker and the agent itself.
const hostShare = 0.8

// defaultMemory is the memory offered to tenants when none is configured:
// hostShare of the host's physical memory, or DefaultMemoryBytes when it
// cannot be read.
func defaultMemory() int64 {
	if total, ok := hostMemory("/proc/meminfo"); ok {
		return int64(float64(total) * hostShare)
	}
	return DefaultMemoryBytes
}

// hostMemory reads MemTotal from a meminfo file, in bytes.
func hostMemory(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "MemTotal:" && fields[2] == "kB" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10, err == nil && kb > 0
		}
	}
	return 0, false
}
