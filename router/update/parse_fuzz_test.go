package update

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/zaki-platform/zaki/internal/samples"
)

// FuzzParse: whatever Telegram (or anyone holding the secret) sends, Parse
// does not panic, answers the same twice, fails only as ErrMalformed, keeps
// the update_id exactly, and never picks one payload of an update that
// carries two (the body is forwarded whole, so both chats would see it).
// `make test` runs the seed corpus; `go test -fuzz FuzzParse ./router/update`
// explores further.
func FuzzParse(f *testing.F) {
	for _, u := range samples.Updates() {
		f.Add(u)
	}
	for _, s := range []string{
		`{"update_id":`, `[1]`, `{}`, `null`, `{"update_id":"1"}`, `{"update_id":1.5}`,
		`{"update_id":-7,"message":{"chat":{"id":1,"type":"private"}}}`,
		`{"update_id":9223372036854775807,"message":{"chat":{"id":-100123,"type":"supergroup"}}}`,
		`{"update_id":7,"message":{"chat":{"id":1}},"edited_message":{"chat":{"id":2}}}`,
		`{"update_id":7,"message":null,"callback_query":{"from":{"id":3},"message":{"chat":{"id":3}}}}`,
		`{"update_id":7,"brand_new":{"chat":{"id":1}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Parse(body)
		d2, err2 := Parse(body)
		if d != d2 || (err == nil) != (err2 == nil) {
			t.Fatalf("two parses differ: %+v %v / %+v %v", d, err, d2, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		var top map[string]json.RawMessage
		if json.Unmarshal(body, &top) != nil {
			t.Fatalf("accepted a body that is not a JSON object: %q", body)
		}
		var id int64
		if strictInt(top["update_id"], &id) != nil || id != d.UpdateID {
			t.Fatalf("update_id %d, the body says %s", d.UpdateID, top["update_id"])
		}
		payloads := 0
		for _, typ := range Types {
			if raw, ok := top[typ]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
				payloads++
			}
		}
		switch {
		case payloads > 1:
			t.Fatalf("accepted an update with %d payloads as %+v", payloads, d)
		case d.Type != "" && !slices.Contains(Types, d.Type):
			t.Fatalf("type %q is not one the router routes", d.Type)
		case d.Action == Deliver && d.Chat == 0:
			t.Fatalf("deliver to chat 0: %+v", d)
		case d.Action == Deliver && d.UpdateID < 0:
			t.Fatalf("deliver an update_id Telegram never sends: %+v", d)
		}
	})
}
