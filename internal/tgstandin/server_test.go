package tgstandin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const botID = 7000000001

func start(t *testing.T) (*Server, string, *http.Client) {
	t.Helper()
	s := New(hclog.NewNullLogger(), botID)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, base, client
}

type envelope struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
}

func do(t *testing.T, c *http.Client, req *http.Request) (int, envelope) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e envelope
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, e
}

func post(t *testing.T, c *http.Client, u, ctype string, body []byte) (int, envelope) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	return do(t, c, req)
}

func TestToken(t *testing.T) {
	a, b := New(hclog.NewNullLogger(), botID), New(hclog.NewNullLogger(), botID)
	re := regexp.MustCompile(`^7000000001:AA[A-Za-z0-9_-]{33}$`)
	if !re.MatchString(a.Token()) {
		t.Fatalf("token %q is not shaped like a bot token", a.Token())
	}
	if a.Token() == b.Token() {
		t.Fatal("two stand-ins share a token")
	}
}

func TestNewWithToken(t *testing.T) {
	s, err := NewWithToken(hclog.NewNullLogger(), "6100000001:AAabc_-09")
	if err != nil || s.Token() != "6100000001:AAabc_-09" || s.BotID() != 6100000001 {
		t.Fatalf("NewWithToken: %v, token %q, bot id %d", err, s.Token(), s.BotID())
	}
	for _, bad := range []string{"", "6100000001", "6100000001:", ":AAabc", "x:AAabc", "-5:AAabc", "6100000001:AA bc"} {
		if _, err := NewWithToken(hclog.NewNullLogger(), bad); err == nil {
			t.Errorf("token %q was accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("the error repeats the token: %v", err)
		}
	}
}

func TestWrongTokenIsUnauthorized(t *testing.T) {
	s, base, c := start(t)
	for _, path := range []string{"/bot7000000001:AAwrong/getMe", "/bot/getMe", "/bot" + s.Token() + "x/sendMessage"} {
		code, e := post(t, c, base+path, "application/json", []byte(`{}`))
		if code != 401 || e.OK || e.ErrorCode != 401 || e.Description != "Unauthorized" {
			t.Errorf("%s: %d %+v", path, code, e)
		}
	}
	if n := len(s.Calls()); n != 0 {
		t.Errorf("refused calls were recorded: %d", n)
	}
}

func TestSendMessageEncodings(t *testing.T) {
	s, base, c := start(t)
	u := base + "/bot" + s.Token() + "/sendMessage"
	const big = "-1004611686018427387" // a supergroup id beyond 2^53
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("chat_id", big)
	_ = mw.WriteField("text", "multi")
	mw.Close()

	tests := []struct {
		name string
		req  func() *http.Request
		text string
	}{
		{"json", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(`{"chat_id":`+big+`,"text":"json"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, "json"},
		{"form", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(url.Values{"chat_id": {big}, "text": {"form"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, "form"},
		{"multipart", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(mp.Bytes()))
			r.Header.Set("Content-Type", mw.FormDataContentType())
			return r
		}, "multi"},
		{"get", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u+"?"+url.Values{"chat_id": {big}, "text": {"get"}}.Encode(), nil)
			return r
		}, "get"},
	}
	var lastID int64
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, e := do(t, c, tt.req())
			if code != 200 || !e.OK {
				t.Fatalf("%d %+v", code, e)
			}
			dec := json.NewDecoder(bytes.NewReader(e.Result))
			dec.UseNumber()
			var m struct {
				MessageID int64 `json:"message_id"`
				Chat      struct {
					ID   json.Number `json:"id"`
					Type string      `json:"type"`
				} `json:"chat"`
				Text string `json:"text"`
			}
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			if m.Chat.ID.String() != big || m.Chat.Type != "supergroup" || m.Text != tt.text {
				t.Errorf("message = %+v", m)
			}
			if m.MessageID <= lastID {
				t.Errorf("message_id %d did not increase past %d", m.MessageID, lastID)
			}
			lastID = m.MessageID
			call := s.Calls()[i]
			if call.Method != "sendMessage" || call.Text != tt.text || call.ChatID != -1004611686018427387 {
				t.Errorf("recorded %+v", call)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	s, base, c := start(t)
	root := base + "/bot" + s.Token() + "/"
	call := func(method, body string) (int, envelope) {
		return post(t, c, root+method, "application/json", []byte(body))
	}
	if code, e := call("getMe", ""); code != 200 || !strings.Contains(string(e.Result), `"id":7000000001`) {
		t.Errorf("getMe: %d %s", code, e.Result)
	}
	if code, e := call("sendMessage", `{"chat_id":1}`); code != 400 || e.OK {
		t.Errorf("sendMessage without text: %d %+v", code, e)
	}
	if _, e := call("setWebhook", `{"url":"https://example.invalid/hook","secret_token":"s"}`); !e.OK {
		t.Error("setWebhook failed")
	}
	if _, e := call("getWebhookInfo", ``); !strings.Contains(string(e.Result), "https://example.invalid/hook") {
		t.Errorf("getWebhookInfo: %s", e.Result)
	}
	if _, e := call("deleteWebhook", ``); !e.OK || s.WebhookURL() != "" {
		t.Error("deleteWebhook did not clear the webhook")
	}
	for _, m := range []string{"answerCallbackQuery", "answerInlineQuery", "sendChatAction", "setMyCommands"} {
		if code, e := call(m, `{"chat_id":5}`); code != 200 || string(e.Result) != "true" {
			t.Errorf("%s: %d %+v", m, code, e)
		}
	}
	if code, _ := post(t, c, base+"/nothing", "application/json", nil); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
	var got []string
	for _, cl := range s.Calls() {
		got = append(got, cl.Method)
	}
	want := "getMe sendMessage setWebhook getWebhookInfo deleteWebhook answerCallbackQuery answerInlineQuery sendChatAction setMyCommands"
	if strings.Join(got, " ") != want {
		t.Errorf("calls = %v", got)
	}
}

func TestSubscribe(t *testing.T) {
	s, base, c := start(t)
	live, stop := s.Subscribe()
	post(t, c, base+"/bot"+s.Token()+"/sendMessage", "application/json", []byte(`{"chat_id":42,"text":"hi"}`))
	select {
	case got := <-live:
		if got.ChatID != 42 || got.Text != "hi" || got.At.IsZero() {
			t.Errorf("live call = %+v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live call")
	}
	stop()
	if _, open := <-live; open {
		t.Error("channel open after unsubscribe")
	}
	stop() // twice is fine

	after, _ := s.Subscribe()
	s.Close()
	if _, open := <-after; open {
		t.Error("channel open after Close")
	}
}

func TestPlay(t *testing.T) {
	var mu sync.Mutex
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Get("X-Telegram-Bot-Api-Secret-Token")+"|"+r.Header.Get("Content-Type")+"|"+string(b))
		mu.Unlock()
		if strings.Contains(string(b), "bad") {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(hook.Close)
	codes, err := Play(context.Background(), hook.URL, "sek", [][]byte{[]byte(`{"update_id":1}`), []byte(`bad`), []byte(`{"update_id":3}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 3 || codes[0] != 200 || codes[1] != 400 || codes[2] != 200 {
		t.Errorf("codes = %v", codes)
	}
	want := []string{`sek|application/json|{"update_id":1}`, `sek|application/json|bad`, `sek|application/json|{"update_id":3}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("received:\n%s", strings.Join(got, "\n"))
	}
	hook.Close()
	if codes, err := Play(context.Background(), hook.URL, "sek", [][]byte{[]byte(`{}`)}); err == nil || len(codes) != 0 {
		t.Errorf("play to a closed hook: %v %v", codes, err)
	}
}
