package router

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"

	"github.com/zaki-platform/zaki/internal/samples"
	"github.com/zaki-platform/zaki/router/update"
)

// FuzzWebhook posts arbitrary bodies, with the right secret, to a router
// whose one running tenant is bigUser's, and checks the webhook's contract:
// it answers 200, 400 or 413 only; a malformed body is refused and held
// nowhere; a body reaches bigUser's container only when it is bigUser's
// update, byte for byte; and anything parked is parked for the tenant of
// the chat the update names, never another. The harness's log check (no
// secret in any line) runs for every input. `make test` runs the seeds;
// `go test -fuzz FuzzWebhook ./router` explores further (one router per
// input: slow, but each input starts clean).
func FuzzWebhook(f *testing.F) {
	for _, u := range samples.Updates() {
		f.Add(u)
	}
	for _, s := range []string{
		privateUpdate(9000000000001, bigUser, "hi"),
		`{"update_id":`, `{}`, `{"update_id":7}`, `{"update_id":-7,"message":{"chat":{"id":5000000000001,"type":"private"}}}`,
		`{"update_id":7,"message":{"chat":{"id":5000000000001,"type":"private"}},"edited_message":{"chat":{"id":42,"type":"private"}}}`,
		`{"update_id":8,"message":{"message_id":1,"chat":{"id":-100777,"type":"supergroup"},"from":{"id":5000000000001}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h := newHarness(t)
		box := newRecorder(t, http.StatusOK, "")
		userTenant(h, box, bigUser)
		code := h.post(string(body), h.secret)
		d, perr := update.Parse(body)
		switch {
		case code != http.StatusOK && code != http.StatusBadRequest && code != http.StatusRequestEntityTooLarge:
			t.Fatalf("answered %d", code)
		case perr != nil && code == http.StatusOK:
			t.Fatalf("answered 200 to a malformed body (%v)", perr)
		case perr == nil && code == http.StatusBadRequest:
			t.Fatalf("answered 400 to a body the parser takes: %+v", d)
		}
		mine := perr == nil && d.Action == update.Deliver && d.Chat == bigUser
		for _, r := range box.got() {
			if !mine || !bytes.Equal(r.Body, body) {
				t.Fatalf("bigUser's container got %q (the update routes as %+v, %v)", r.Body, d, perr)
			}
		}
		h.cp.mu.Lock()
		defer h.cp.mu.Unlock()
		for tenant, ids := range h.cp.parked {
			if len(ids) == 0 {
				continue
			}
			if code != http.StatusOK || d.Action != update.Deliver || tenant != strconv.FormatInt(d.Chat, 10) {
				t.Fatalf("parked for tenant %s: the update routes as %+v (answered %d)", tenant, d, code)
			}
		}
	})
}
