package main

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
)

// maxUpdateBytes bounds one webhook body; Telegram's are far smaller.
const maxUpdateBytes = 4 << 20

// echo is the webhook handler and its durable record.
type echo struct {
	log     *slog.Logger
	cfg     config
	replier *replier

	st atomic.Pointer[store] // nil until the log is loaded: not ready

	received   atomic.Int64 // fresh updates recorded
	duplicates atomic.Int64 // repeated update ids, answered 200 and ignored
}

func newEcho(log *slog.Logger, cfg config, r *replier) *echo {
	return &echo{log: log, cfg: cfg, replier: r}
}

// load opens the durable record; the echo is ready afterwards.
func (e *echo) load() error {
	if err := os.MkdirAll(e.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	st, err := openStore(filepath.Join(e.cfg.DataDir, logName))
	if err != nil {
		return err
	}
	e.st.Store(st)
	e.log.Info("update log loaded", "updates", st.count())
	return nil
}

func (e *echo) close() {
	if st := e.st.Load(); st != nil {
		_ = st.close()
	}
}

func (e *echo) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+e.cfg.WebhookPath, e.webhook)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if e.st.Load() == nil {
			http.Error(w, "loading update log", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /stats", e.stats)
	return mux
}

// Stats is what GET /stats reports, for tests and the demo.
type Stats struct {
	Received    int64 `json:"received"`
	Duplicates  int64 `json:"duplicates"`
	Replied     int64 `json:"replied"`
	ReplyFailed int64 `json:"reply_failed"`
}

func (e *echo) stats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Stats{
		Received:    e.received.Load(),
		Duplicates:  e.duplicates.Load(),
		Replied:     e.replier.sent.Load(),
		ReplyFailed: e.replier.failed.Load(),
	})
}

// webhook checks the secret, records the update durably, answers, and only
// then queues the reply: a 200 means the update is on disk.
func (e *echo) webhook(w http.ResponseWriter, r *http.Request) {
	got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if subtle.ConstantTimeCompare([]byte(got), []byte(e.cfg.WebhookSecret)) != 1 {
		http.Error(w, "wrong secret token", http.StatusUnauthorized)
		return
	}
	st := e.st.Load()
	if st == nil {
		http.Error(w, "loading update log", http.StatusServiceUnavailable)
		return
	}
	u, err := decodeUpdate(http.MaxBytesReader(w, r.Body, maxUpdateBytes))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fresh, err := st.record(entry{UpdateID: u.id, ChatID: u.chatID})
	if err != nil {
		e.log.Error("could not record update", "update_id", u.id, "error", err)
		http.Error(w, "could not record update", http.StatusInternalServerError)
		return
	}
	if !fresh {
		e.duplicates.Add(1)
		e.log.Info("repeated update ignored", "update_id", u.id)
		w.WriteHeader(http.StatusOK)
		return
	}
	e.received.Add(1)
	e.log.Debug("update recorded", "update_id", u.id)
	w.WriteHeader(http.StatusOK)
	if u.text != "" && u.chatID != nil {
		e.replier.enqueue(reply{updateID: u.id, chatID: *u.chatID, text: "echo: " + u.text})
	}
}

// parsed is what the echo needs from one update.
type parsed struct {
	id     int64
	chatID *int64 // the chat the update came from, if it names one
	text   string // text of a message-like update, for the echo
}

type chat struct {
	ID json.Number `json:"id"`
}

type message struct {
	Chat *chat  `json:"chat"`
	Text string `json:"text"`
}

// rawUpdate names the update fields the echo looks at. Ids are json.Number
// and parsed as int64, so ids above 2^53 survive exactly.
type rawUpdate struct {
	UpdateID          json.Number `json:"update_id"`
	Message           *message    `json:"message"`
	EditedMessage     *message    `json:"edited_message"`
	ChannelPost       *message    `json:"channel_post"`
	EditedChannelPost *message    `json:"edited_channel_post"`
	CallbackQuery     *struct {
		Message *message `json:"message"`
	} `json:"callback_query"`
	MyChatMember    *message `json:"my_chat_member"`
	ChatMember      *message `json:"chat_member"`
	ChatJoinRequest *message `json:"chat_join_request"`
}

func decodeUpdate(body io.Reader) (parsed, error) {
	dec := json.NewDecoder(body)
	dec.UseNumber()
	var ru rawUpdate
	if err := dec.Decode(&ru); err != nil {
		return parsed{}, fmt.Errorf("malformed update: %w", err)
	}
	if ru.UpdateID == "" {
		return parsed{}, errors.New("malformed update: no update_id")
	}
	id, err := strconv.ParseInt(ru.UpdateID.String(), 10, 64)
	if err != nil {
		return parsed{}, fmt.Errorf("malformed update_id: %w", err)
	}
	p := parsed{id: id}
	// Only messages are echoed; the others are recorded with their chat.
	for i, m := range []*message{ru.Message, ru.EditedMessage, ru.ChannelPost, ru.EditedChannelPost,
		callbackMessage(ru), ru.MyChatMember, ru.ChatMember, ru.ChatJoinRequest} {
		if m == nil || m.Chat == nil {
			continue
		}
		cid, err := strconv.ParseInt(m.Chat.ID.String(), 10, 64)
		if err != nil {
			return parsed{}, fmt.Errorf("malformed chat id: %w", err)
		}
		p.chatID = &cid
		if i < 4 {
			p.text = m.Text
		}
		break
	}
	return p, nil
}

func callbackMessage(ru rawUpdate) *message {
	if ru.CallbackQuery == nil {
		return nil
	}
	return ru.CallbackQuery.Message
}
