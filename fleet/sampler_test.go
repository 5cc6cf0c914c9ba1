package fleet

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
)

// sampleEvery is how often the sampler lists running tenant containers.
const sampleEvery = 250 * time.Millisecond

// sampler watches the host's engine for the whole suite and records every
// moment one tenant had two running containers, and every node each tenant
// ran on. It lists containers the way `docker ps` does.
type sampler struct {
	f     *fleet
	stopc chan struct{}
	done  chan struct{}

	mu         sync.Mutex // guards the fields below
	samples    int
	violations []string
	ranOn      map[string]map[string]bool // tenant -> nodes it was seen running on
}

func startSampler(f *fleet) *sampler {
	s := &sampler{f: f, stopc: make(chan struct{}), done: make(chan struct{}),
		ranOn: map[string]map[string]bool{}}
	go s.run()
	return s
}

func (s *sampler) run() {
	defer close(s.done)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-tick.C:
			s.sample()
		}
	}
}

func (s *sampler) sample() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := s.f.docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", "zaki.managed-by=zaki"), filters.Arg("status", "running"))})
	if err != nil {
		return // the engine is busy; the next tick samples again
	}
	re := s.f.nodeRE()
	running := map[string][]string{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range list {
		node, tenant := c.Labels["zaki.node"], c.Labels["zaki.tenant"]
		if !re.MatchString(node) {
			continue
		}
		running[tenant] = append(running[tenant], strings.TrimPrefix(c.Names[0], "/"))
		if s.ranOn[tenant] == nil {
			s.ranOn[tenant] = map[string]bool{}
		}
		s.ranOn[tenant][node] = true
	}
	s.samples++
	for tenant, names := range running {
		if len(names) > 1 {
			sort.Strings(names)
			s.violations = append(s.violations, fmt.Sprintf("%s: tenant %s had %d running containers: %v",
				time.Now().Format("15:04:05.000"), tenant, len(names), names))
		}
	}
}

func (s *sampler) stop() {
	select {
	case <-s.stopc:
	default:
		close(s.stopc)
	}
	<-s.done
}

// mark returns how many violations there are so far, for check.
func (s *sampler) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.violations)
}

// check fails t for every violation since mark, and when the sampler has
// not sampled at all (it would then prove nothing).
func (s *sampler) check(t *testing.T, since int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.samples == 0 {
		t.Error("the container sampler took no sample")
	}
	for _, v := range s.violations[since:] {
		t.Error(v)
	}
}

// nodesOf returns the nodes tenant was seen running on.
func (s *sampler) nodesOf(tenant string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.ranOn[tenant] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
