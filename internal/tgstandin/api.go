package tgstandin

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds one request, uploads included.
const maxBody = 50 << 20

// apiResponse is Telegram's envelope.
type apiResponse struct {
	OK          bool   `json:"ok"`
	Result      any    `json:"result,omitempty"`
	ErrorCode   int    `json:"error_code,omitempty"`
	Description string `json:"description,omitempty"`
}

// ServeHTTP answers /bot<token>/<method>; anything else is 404 like Telegram.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, method, ok := splitPath(r.URL.Path)
	if !ok {
		reply(w, http.StatusNotFound, apiResponse{ErrorCode: 404, Description: "Not Found"})
		return
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) != 1 {
		s.log.Debug("call with a wrong token refused", "method", method)
		reply(w, http.StatusUnauthorized, apiResponse{ErrorCode: 401, Description: "Unauthorized"})
		return
	}
	body, params, err := readParams(r)
	if err != nil {
		reply(w, http.StatusBadRequest, apiResponse{ErrorCode: 400, Description: "Bad Request: " + err.Error()})
		return
	}
	c := Call{Method: method, ChatID: params.int("chat_id"), Text: params.str("text"), Body: body, At: time.Now()}
	s.record(c)
	s.log.Debug("bot api call", "method", method)
	status, resp := s.answer(method, c, params)
	reply(w, status, resp)
}

// answer computes the reply to one recorded call.
func (s *Server) answer(method string, c Call, p params) (int, apiResponse) {
	switch strings.ToLower(method) {
	case "getme":
		return ok(s.me())
	case "sendmessage":
		if p.str("chat_id") == "" {
			return badRequest("chat_id is empty")
		}
		if c.Text == "" {
			return badRequest("message text is empty")
		}
		return ok(s.message(c))
	case "setwebhook":
		s.mu.Lock()
		s.webhook = webhookState{URL: p.str("url"), Secret: p.str("secret_token")}
		s.mu.Unlock()
		return okDescribed(true, "Webhook was set")
	case "deletewebhook":
		s.mu.Lock()
		s.webhook = webhookState{}
		s.mu.Unlock()
		return okDescribed(true, "Webhook was deleted")
	case "getwebhookinfo":
		return ok(map[string]any{"url": s.WebhookURL(), "has_custom_certificate": false, "pending_update_count": 0})
	default:
		// answerCallbackQuery, answerInlineQuery, sendChatAction and every
		// other method: accepted and recorded.
		return ok(true)
	}
}

func ok(result any) (int, apiResponse) {
	return http.StatusOK, apiResponse{OK: true, Result: result}
}

func okDescribed(result any, desc string) (int, apiResponse) {
	return http.StatusOK, apiResponse{OK: true, Result: result, Description: desc}
}

func badRequest(why string) (int, apiResponse) {
	return http.StatusBadRequest, apiResponse{ErrorCode: 400, Description: "Bad Request: " + why}
}

func reply(w http.ResponseWriter, status int, resp apiResponse) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) me() map[string]any {
	return map[string]any{
		"id": s.botID, "is_bot": true, "first_name": "Zaki Stand-in", "username": "zaki_standin_bot",
		"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": true,
	}
}

// message is the Message a sendMessage returns, with an increasing id.
func (s *Server) message(c Call) map[string]any {
	s.mu.Lock()
	s.messageID++
	id := s.messageID
	s.mu.Unlock()
	return map[string]any{
		"message_id": id,
		"date":       c.At.Unix(),
		"chat":       map[string]any{"id": c.ChatID, "type": chatType(c.ChatID)},
		"from":       map[string]any{"id": s.botID, "is_bot": true, "first_name": "Zaki Stand-in", "username": "zaki_standin_bot"},
		"text":       c.Text,
	}
}

// chatType guesses the chat's type from its id, as Telegram's ids encode it.
func chatType(id int64) string {
	switch {
	case id > 0:
		return "private"
	case id <= -1_000_000_000_000:
		return "supergroup"
	default:
		return "group"
	}
}

// params are a call's parameters, as JSON values or plain strings.
type params map[string]string

func (p params) str(k string) string { return p[k] }

// int parses a numeric parameter exactly (ids above 2^53 included).
func (p params) int(k string) int64 {
	n, err := strconv.ParseInt(p[k], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// readParams reads the body and the parameters of GET, JSON, url-encoded
// and multipart calls, as Telegram accepts all four.
func readParams(r *http.Request) ([]byte, params, error) {
	p := params{}
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	if r.Method == http.MethodGet {
		return []byte(r.URL.RawQuery), p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, nil, err
	}
	ctype, mparams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ctype {
	case "application/json":
		err = jsonParams(body, p)
	case "application/x-www-form-urlencoded":
		var vals url.Values
		if vals, err = url.ParseQuery(string(body)); err == nil {
			for k, v := range vals {
				p[k] = v[0]
			}
		}
	case "multipart/form-data":
		err = multipartParams(body, mparams["boundary"], p)
	}
	return body, p, err
}

func jsonParams(body []byte, p params) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return err
	}
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			p[k] = s
			continue
		}
		p[k] = string(v) // numbers stay as their exact text
	}
	return nil
}

func multipartParams(body []byte, boundary string, p params) error {
	req := &http.Request{Method: http.MethodPost, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	if err := req.ParseMultipartForm(maxBody); err != nil {
		return err
	}
	for k, v := range req.MultipartForm.Value {
		p[k] = v[0]
	}
	return nil
}
