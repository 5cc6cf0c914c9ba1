package fleet

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sent is one update the suite posted to the router's webhook.
type sent struct {
	id     int64
	tenant string // "" for an update no tenant may receive
	code   int    // the router's answer; 0 when the request itself failed
}

// acked tells whether the router took the update: Telegram would not send
// it again, so it must reach its tenant.
func (s sent) acked() bool { return s.code/100 == 2 }

// ledger is every update the suite sent, in the order sent. Updates are
// posted one at a time, so within a tenant the order sent is the order its
// container must receive them in.
type ledger struct {
	mu    sync.Mutex // guards sent
	sent  []sent
	index map[int64]int
}

func (l *ledger) add(s sent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.index == nil {
		l.index = map[int64]int{}
	}
	l.index[s.id] = len(l.sent)
	l.sent = append(l.sent, s)
}

// snapshot returns the updates sent from position from on, and every sent
// id's position, as copies the caller may keep.
func (l *ledger) snapshot(from int) ([]sent, map[int64]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	index := make(map[int64]int, len(l.index))
	for id, i := range l.index {
		index[id] = i
	}
	return slices.Clone(l.sent[min(from, len(l.sent)):]), index
}

// len is how many updates were sent so far.
func (l *ledger) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sent)
}

// nextUpdateID makes update ids above 2^32, as Telegram's are, apart from the
// sample conversation's.
var nextUpdateID atomic.Int64

func init() { nextUpdateID.Store(7_100_000_000) }

var httpClient = &http.Client{Timeout: 30 * time.Second}

// post sends one update body with the fleet's webhook secret and records it.
func (f *fleet) post(id int64, tenant string, body []byte) sent {
	s := sent{id: id, tenant: tenant}
	req, _ := http.NewRequest(http.MethodPost, f.webhookURL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", f.secret)
	resp, err := httpClient.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s.code = resp.StatusCode
	}
	f.led.add(s)
	return s
}

// say posts a text message from person in their private chat.
func (f *fleet) say(person int64, text string) sent {
	id := nextUpdateID.Add(1)
	body := fmt.Appendf(nil, `{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,`+
		`"first_name":"P%d"},"chat":{"id":%d,"first_name":"P%d","type":"private"},"date":1764763200,"text":%q}}`,
		id, id%1_000_000, person, person%1000, person, person%1000, text)
	return f.post(id, strconv.FormatInt(person, 10), body)
}

// traffic keeps people talking, one update at a time, until stopped: the
// load a fault is injected under.
type traffic struct {
	stopc chan struct{}
	done  chan struct{}
	acked atomic.Int64
}

func (f *fleet) startTraffic(people []int64) *traffic {
	tr := &traffic{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for i := 0; ; i++ {
			select {
			case <-tr.stopc:
				return
			case <-time.After(150 * time.Millisecond):
			}
			if f.say(people[i%len(people)], fmt.Sprintf("message %d", i)).acked() {
				tr.acked.Add(1)
			}
		}
	}()
	return tr
}

func (tr *traffic) stop() {
	select {
	case <-tr.stopc:
	default:
		close(tr.stopc)
	}
	<-tr.done
}
