package router

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/secret"
	"github.com/zaki-platform/zaki/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testBotID    = "6100000001"
	testBotToken = testBotID + ":AAH-real-token-never-logged_x9"
)

// harness is a router on loopback with a fake control plane, an upstream
// Bot API stand-in, and a log that is checked for secrets at the end.
type harness struct {
	t        *testing.T
	cp       *fakeCP
	r        *Router
	reg      *prometheus.Registry
	logs     *testutil.SyncBuffer
	upstream *recorder
	secret   string // the webhook secret
}

func newHarness(t *testing.T, opts ...func(*Config, *fakeCP)) *harness {
	t.Helper()
	h := &harness{t: t, reg: prometheus.NewRegistry(), logs: &testutil.SyncBuffer{}, secret: secret.New()}
	h.cp = startFakeCP(t, 50*time.Millisecond)
	h.upstream = newRecorder(t, http.StatusOK, `{"ok":true,"result":{"message_id":1}}`)
	cfg := Config{
		Listen: "127.0.0.1:0", FrontListen: "127.0.0.1:0", ControlPlane: h.cp.addr,
		BotToken: testBotToken, WebhookSecret: h.secret, TelegramAPIURL: h.upstream.srv.URL,
		ForwardTimeout: 5 * time.Second, ProgressInterval: 50 * time.Millisecond,
		RetryMin: 10 * time.Millisecond, Registry: h.reg,
		Logger: hclog.New(&hclog.LoggerOptions{Output: h.logs, Level: hclog.Trace}),
	}
	for _, o := range opts {
		o(&cfg, h.cp)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	h.r = r
	t.Cleanup(func() {
		cancel()
		if err := r.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
		h.checkLogs()
	})
	h.eventually("route cache ready", func() bool { return r.Ready() == nil })
	return h
}

// checkLogs fails the test if any log line carries a secret.
func (h *harness) checkLogs() {
	h.t.Helper()
	logs := h.logs.String()
	secrets := []string{testBotToken, strings.TrimPrefix(testBotToken, testBotID+":"), h.secret}
	h.cp.mu.Lock()
	for _, r := range h.cp.routes {
		secrets = append(secrets, r.WebhookSecret, r.BotApiSecret)
	}
	h.cp.mu.Unlock()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			h.t.Errorf("a log line carries the secret %s", secret.Fingerprint(s))
		}
	}
}

// eventually polls cond for up to 10 seconds.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// post sends one webhook request and returns the status code.
func (h *harness) post(body string, secretHeader string) int {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+h.r.WebhookAddr()+WebhookPath, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secretHeader != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secretHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// counter reads one counter's value.
func (h *harness) counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		h.t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// request is one request a recorder saw.
type request struct {
	Method, Path, Query, ContentType, Secret string
	Body                                     []byte
}

// recorder is an httptest server that records what it receives: a tenant's
// container or the upstream Bot API.
type recorder struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []request
	status  int
	answer  string
	hold    chan struct{} // when not nil, requests wait for it to close
	arrived int           // requests seen, held or not
}

func (rec *recorder) arrivedCount() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.arrived
}

func newRecorder(t *testing.T, status int, answer string) *recorder {
	rec := &recorder{status: status, answer: answer}
	rec.srv = httptest.NewServer(http.HandlerFunc(rec.serve))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	rec.mu.Lock()
	rec.arrived++
	hold := rec.hold
	rec.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
			return
		}
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, request{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery,
		ContentType: req.Header.Get("Content-Type"), Secret: req.Header.Get("X-Telegram-Bot-Api-Secret-Token"), Body: body})
	status, answer := rec.status, rec.answer
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

func (rec *recorder) got() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

func (rec *recorder) setStatus(code int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.status = code
}

// place points route at the recorder and marks it RUNNING.
func (rec *recorder) place(r *zakiv1.Route) *zakiv1.Route {
	host, port, _ := net.SplitHostPort(rec.srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	r.NodeAddress, r.HostPort, r.WebhookPath = host, uint32(p), "/telegram-webhook"
	r.State = zakiv1.PlacementState_PLACEMENT_STATE_RUNNING
	return r
}
