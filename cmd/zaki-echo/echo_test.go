package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zaki-platform/zaki/internal/testutil"
	"github.com/zaki-platform/zaki/internal/tgstandin"
)

const secret = "WEBHOOKsecret123"

type echoUnderTest struct {
	url  string
	logs *testutil.SyncBuffer
	stop func() error
}

// startEcho runs the echo in-process on loopback until the test ends.
func startEcho(t *testing.T, dataDir, apiRoot, token string) *echoUnderTest {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg, err := configFromEnv(func(k string) string {
		return map[string]string{
			"ZAKI_ECHO_DATA": dataDir, "ZAKI_ECHO_API_ROOT": apiRoot,
			"ZAKI_ECHO_BOT_TOKEN": token, "ZAKI_ECHO_WEBHOOK_SECRET": secret, "ZAKI_ECHO_TENANT": "t1",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, log, cfg, ln) }()
	e := &echoUnderTest{url: "http://" + ln.Addr().String(), logs: logs}
	var once sync.Once
	var stopErr error
	e.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() { _ = e.stop() })
	waitFor(t, func() bool {
		resp, err := http.Get(e.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return e
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *echoUnderTest) post(t *testing.T, secretHeader, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/telegram-webhook", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secretHeader != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secretHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (e *echoUnderTest) stats(t *testing.T) Stats {
	t.Helper()
	resp, err := http.Get(e.url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func newStandin(t *testing.T) (*tgstandin.Server, string) {
	t.Helper()
	s := tgstandin.New(hclog.NewNullLogger(), 7000000001)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, base
}

func TestWebhookAnswers(t *testing.T) {
	tg, base := newStandin(t)
	e := startEcho(t, t.TempDir(), base, tg.Token())
	tests := []struct {
		name, secret, body string
		want               int
	}{
		{"no secret", "", `{"update_id":1}`, 401},
		{"wrong secret", "nope", `{"update_id":1}`, 401},
		{"secret prefix", secret[:5], `{"update_id":1}`, 401},
		{"malformed json", secret, `{"update_id":`, 400},
		{"no update_id", secret, `{"message":{}}`, 400},
		{"fractional update_id", secret, `{"update_id":1.5}`, 400},
		{"non-text update", secret, `{"update_id":10,"my_chat_member":{"chat":{"id":-100}}}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.post(t, tt.secret, tt.body); got != tt.want {
				t.Fatalf("status = %d, want %d", got, tt.want)
			}
		})
	}
	if n := len(tg.Calls()); n != 0 {
		t.Fatalf("echo called the Bot API %d times for no text", n)
	}
}

func TestEchoRepliesOnceAndRecordsDurably(t *testing.T) {
	tg, base := newStandin(t)
	dir := t.TempDir()
	e := startEcho(t, dir, base, tg.Token())
	const chat = -1004611686018427387 // beyond 2^53
	const update = `{"update_id":9007199254740993,"message":{"message_id":5,"chat":{"id":-1004611686018427387,"type":"supergroup"},"text":"hello"}}`

	if got := e.post(t, secret, update); got != 200 {
		t.Fatalf("status = %d", got)
	}
	// The record is on disk before the 200.
	data, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil || string(data) != `{"update_id":9007199254740993,"chat_id":-1004611686018427387}`+"\n" {
		t.Fatalf("updates.log = %q, %v", data, err)
	}
	waitFor(t, func() bool { return len(tg.Calls()) == 1 })
	c := tg.Calls()[0]
	if c.Method != "sendMessage" || c.ChatID != chat || c.Text != "echo: hello" {
		t.Fatalf("reply = %+v", c)
	}

	if got := e.post(t, secret, update); got != 200 {
		t.Fatalf("repeat status = %d", got)
	}
	if s := e.stats(t); s.Duplicates != 1 || s.Received != 1 {
		t.Fatalf("stats = %+v", s)
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}

	// A restarted echo remembers the id.
	e2 := startEcho(t, dir, base, tg.Token())
	if got := e2.post(t, secret, update); got != 200 {
		t.Fatalf("status after restart = %d", got)
	}
	if s := e2.stats(t); s.Duplicates != 1 || s.Received != 0 {
		t.Fatalf("stats after restart = %+v", s)
	}
	e2.post(t, secret, `{"update_id":2,"edited_message":{"chat":{"id":77},"text":"again"}}`)
	waitFor(t, func() bool { return len(tg.Calls()) == 2 })
	if c := tg.Calls()[1]; c.ChatID != 77 || c.Text != "echo: again" {
		t.Fatalf("second reply = %+v", c)
	}
	for _, s := range []string{tg.Token(), secret} {
		if strings.Contains(e.logs.String()+e2.logs.String(), s) {
			t.Fatal("a secret reached the logs")
		}
	}
}

func TestTornLogLineIsCut(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, logName)
	if err := os.WriteFile(path, []byte(`{"update_id":1,"chat_id":5}`+"\n"+`{"update_id":2,"ch`), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := st.record(entry{UpdateID: 2})
	if err != nil || !fresh {
		t.Fatalf("update 2 (never acknowledged) not fresh: %v %v", fresh, err)
	}
	if fresh, _ := st.record(entry{UpdateID: 1}); fresh {
		t.Fatal("update 1 recorded twice")
	}
	st.close()
	data, _ := os.ReadFile(path)
	if string(data) != `{"update_id":1,"chat_id":5}`+"\n"+`{"update_id":2}`+"\n" {
		t.Fatalf("log = %q", data)
	}
}

func TestCorruptLogRefusesToStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), logName)
	os.WriteFile(path, []byte("garbage\n"), 0o600)
	if _, err := openStore(path); err == nil {
		t.Fatal("a corrupt log loaded")
	}
}

func TestReplyRetries(t *testing.T) {
	tests := []struct {
		name     string
		fails    []int // statuses before success
		wantSent int64
		wantTry  int32
	}{
		{"5xx then ok", []int{500, 502}, 1, 3},
		{"429 then ok", []int{429}, 1, 2},
		{"4xx is final", []int{400}, 0, 1},
		{"gives up", []int{500, 500, 500, 500, 500, 500, 500}, 0, maxAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tries atomic.Int32
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(tries.Add(1))
				if n <= len(tt.fails) {
					w.WriteHeader(tt.fails[n-1])
					w.Write([]byte(`{"ok":false,"description":"x","parameters":{"retry_after":0}}`))
					return
				}
				w.Write([]byte(`{"ok":true,"result":{}}`))
			}))
			t.Cleanup(api.Close)
			log := slog.New(slog.NewTextHandler(&testutil.SyncBuffer{}, nil))
			p2 := newReplier(log, api.Client(), api.URL, "1:tok")
			p2.backoff = time.Millisecond
			p2.enqueue(reply{chatID: 1, text: "echo: x"})
			p2.close()
			p2.run(context.Background())
			if p2.sent.Load() != tt.wantSent || tries.Load() != tt.wantTry {
				t.Fatalf("sent %d after %d tries, want %d after %d", p2.sent.Load(), tries.Load(), tt.wantSent, tt.wantTry)
			}
		})
	}
}

func TestConfigRequiresSecrets(t *testing.T) {
	for _, missing := range []string{"ZAKI_ECHO_BOT_TOKEN", "ZAKI_ECHO_WEBHOOK_SECRET"} {
		_, err := configFromEnv(func(k string) string {
			if k == missing {
				return ""
			}
			return "x"
		})
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("without %s: %v", missing, err)
		}
	}
}
