package tgstandin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// subBuffer is how many live calls a slow subscriber may fall behind before
// calls are dropped for it (Calls still has them all).
const subBuffer = 1024

// Call is one Bot API call the stand-in received with the right token.
type Call struct {
	// Method is the method name as called ("sendMessage").
	Method string
	// ChatID is the call's chat_id when it is numeric, else 0.
	ChatID int64
	// Text is the call's text parameter, if any.
	Text string
	// Body is the raw request body (the query string for GET).
	Body []byte
	// At is when the call arrived.
	At time.Time
}

// Server is a running stand-in. Its zero value is not usable; use New.
type Server struct {
	log   hclog.Logger
	botID int64
	token string

	mu        sync.Mutex // guards the fields below
	calls     []Call
	subs      map[int]chan Call
	nextSub   int
	messageID int64
	webhook   webhookState
	srv       *http.Server
	closed    bool
}

// webhookState is what setWebhook stored.
type webhookState struct {
	URL    string
	Secret string
}

// New returns a stand-in for the bot botID with a fresh random token.
func New(log hclog.Logger, botID int64) *Server {
	return &Server{
		log:   log.Named("tgstandin"),
		botID: botID,
		token: fmt.Sprintf("%d:AA%s", botID, randomToken(33)),
		subs:  map[int]chan Call{},
	}
}

// NewWithToken returns a stand-in that accepts token, a bot token made
// elsewhere and shaped like a real one ("<bot id>:<secret>"), so a router in
// another process or container can be given the same token. The bot id is
// the token's prefix.
func NewWithToken(log hclog.Logger, token string) (*Server, error) {
	id, secret, ok := strings.Cut(token, ":")
	botID, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || botID <= 0 || secret == "" || strings.Trim(secret, tokenAlphabet) != "" {
		return nil, errors.New("telegram stand-in: the bot token must look like a real one, " +
			"<bot id>:<secret of A-Z a-z 0-9 _ ->")
	}
	s := New(log, botID)
	s.token = token
	return s, nil
}

// tokenAlphabet is the character set of real bot tokens' secret part.
const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = tokenAlphabet[int(b[i])%len(tokenAlphabet)]
	}
	return string(b)
}

// Token is the bot token the stand-in accepts.
func (s *Server) Token() string { return s.token }

// BotID is the bot's numeric id (the token's prefix).
func (s *Server) BotID() int64 { return s.botID }

// Start listens on addr ("127.0.0.1:0" picks a port) and serves until Close.
// It returns the base URL to use as a Bot API root ("http://127.0.0.1:PORT").
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("telegram stand-in listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	if s.srv != nil || s.closed {
		s.mu.Unlock()
		ln.Close()
		return "", errors.New("telegram stand-in already started or closed")
	}
	s.srv = srv
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("telegram stand-in stopped", "error", err)
		}
	}()
	s.log.Info("telegram stand-in serving", "addr", ln.Addr().String())
	return "http://" + ln.Addr().String(), nil
}

// Close stops serving and closes every subscription channel.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.closed = true
	for id, ch := range s.subs {
		close(ch)
		delete(s.subs, id)
	}
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// Calls returns every call received so far, in arrival order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Subscribe returns a channel of calls from now on and a func that ends the
// subscription. The channel is closed by that func or by Close. A subscriber
// more than subBuffer calls behind misses calls (logged).
func (s *Server) Subscribe() (<-chan Call, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan Call, subBuffer)
	if s.closed {
		close(ch)
		return ch, func() {}
	}
	id := s.nextSub
	s.nextSub++
	s.subs[id] = ch
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if c, ok := s.subs[id]; ok {
			close(c)
			delete(s.subs, id)
		}
	}
}

// WebhookURL is the URL the last setWebhook stored ("" after deleteWebhook).
func (s *Server) WebhookURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook.URL
}

// record stores c and hands it to subscribers.
func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	for _, ch := range s.subs {
		select {
		case ch <- c:
		default:
			s.log.Warn("subscriber behind, call dropped for it", "method", c.Method)
		}
	}
}

// splitPath parses "/bot<token>/<method>".
func splitPath(p string) (token, method string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/bot")
	if !ok {
		return "", "", false
	}
	token, method, ok = strings.Cut(rest, "/")
	return token, method, ok && method != "" && !strings.Contains(method, "/")
}
