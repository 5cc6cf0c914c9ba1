package fleet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
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
	id, body := message(person, text)
	return f.post(id, tenantOf(person), body)
}

// message is a new update: a text message from person in their private chat.
func message(person int64, text string) (int64, []byte) {
	id := nextUpdateID.Add(1)
	body := fmt.Appendf(nil, `{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,`+
		`"first_name":"P%d"},"chat":{"id":%d,"first_name":"P%d","type":"private"},"date":1764763200,"text":%q}}`,
		id, id%1_000_000, person, person%1000, person, person%1000, text)
	return id, body
}

// Telegram sends an update again when its webhook call fails: soon at
// first, then less often. The suite does the same, within a bound, so an
// update the router refused for a moment is still delivered, and only a
// 2xx answer counts as acknowledged.
const (
	redeliverFirst = 250 * time.Millisecond
	redeliverMax   = 2 * time.Second
	redeliverFor   = time.Minute
)

// sayAsTelegram posts a text message from person and, while the router
// answers anything but 2xx, posts the very same update again, as Telegram
// would, for at most redeliverFor. It returns the last answer and how many
// answers were refusals.
func (f *fleet) sayAsTelegram(person int64, text string) (sent, int) {
	id, body := message(person, text)
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = redeliverFirst, redeliverMax
	refused := 0
	last, _ := backoff.Retry(context.Background(), func() (sent, error) {
		s := f.post(id, tenantOf(person), body)
		if !s.acked() {
			refused++
			return s, fmt.Errorf("update %d: the router answered %d", id, s.code)
		}
		return s, nil
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(redeliverFor))
	return last, refused
}

// traffic keeps people talking, one update at a time, until stopped or
// until it sent its bound: the load a fault is injected under.
type traffic struct {
	stopc chan struct{}
	done  chan struct{}
	acked atomic.Int64
	// refused counts the router's non-2xx answers (Telegram-like traffic
	// sends those updates again).
	refused atomic.Int64
}

// trafficBound caps every traffic's updates, so none runs on unbounded
// when a scenario forgets to stop it: 150ms apart, a quarter of an hour.
const trafficBound = 6000

// startTraffic has people talk, the next one every 150ms; an update the
// router refuses is not sent again.
func (f *fleet) startTraffic(people []int64) *traffic {
	return f.talk(people, false)
}

// startTelegramTraffic is startTraffic where an update the router refused
// is sent again until it is acknowledged, as Telegram does.
func (f *fleet) startTelegramTraffic(people []int64) *traffic {
	return f.talk(people, true)
}

func (f *fleet) talk(people []int64, redeliver bool) *traffic {
	tr := &traffic{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for i := range trafficBound {
			select {
			case <-tr.stopc:
				return
			case <-time.After(150 * time.Millisecond):
			}
			p, text := people[i%len(people)], fmt.Sprintf("message %d", i)
			var s sent
			if redeliver {
				var refused int
				s, refused = f.sayAsTelegram(p, text)
				tr.refused.Add(int64(refused))
			} else {
				s = f.say(p, text)
			}
			if s.acked() {
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
