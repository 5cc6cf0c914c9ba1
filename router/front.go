package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/secret"
)

// front is the Bot API as containers see it: /bot<pseudo token>/<method> and
// /file/bot<pseudo token>/<path>. A pseudo token is "<bot id>:<tenant's
// bot_api_secret>"; the front swaps it for the real token, swallows the calls
// that would steal the bot's webhook, and refuses what the tenant may not do
// (frontpolicy.go): change the shared bot, or reach outside its own chats
// and person.
//
// TODO(#4): record poll ids the tenant sends, and honour Telegram's rate
// limits by waiting out retry_after.
type front struct {
	api     string // TelegramAPIURL without a trailing slash
	token   string // the real bot token
	botID   string
	maxBody int64
	cache   *routeCache
	client  *http.Client
	m       *metrics
	log     hclog.Logger
	budget  uploadBudget
}

// swallowed answers these methods itself: a container must never move the
// bot's webhook or pull its updates. Bot frameworks (OpenClaw's among them)
// also set the bot's command list on every boot; that list is the whole
// bot's, the operator's to set, so the call is answered as done without
// reaching Telegram rather than refused, which would fail the boot.
var swallowed = map[string]string{
	"setmycommands":    `{"ok":true,"result":true}`,
	"deletemycommands": `{"ok":true,"result":true}`,
	"setwebhook":       `{"ok":true,"result":true}`,
	"deletewebhook":    `{"ok":true,"result":true}`,
	"logout":           `{"ok":true,"result":true}`,
	"close":            `{"ok":true,"result":true}`,
	"getupdates":       `{"ok":true,"result":[]}`,
	// The real webhook's URL and backlog are the operator's; an assistant
	// that checks its own webhook sees one that is set and healthy.
	"getwebhookinfo": `{"ok":true,"result":{"url":"https://zaki.invalid/telegram-webhook",` +
		`"has_custom_certificate":false,"pending_update_count":0}}`,
}

func (f *front) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rest, file := strings.CutPrefix(req.URL.Path, "/file/bot")
	if !file {
		var ok bool
		if rest, ok = strings.CutPrefix(req.URL.Path, "/bot"); !ok {
			f.fail(w, "none", http.StatusNotFound, "Not Found")
			return
		}
	}
	token, tail, _ := strings.Cut(rest, "/")
	route := f.authenticate(token)
	if route == nil {
		f.fail(w, "none", http.StatusUnauthorized, "Unauthorized")
		return
	}
	if file {
		if !cleanFilePath(tail) {
			f.fail(w, "file", http.StatusBadRequest, "Bad Request: invalid file path")
			return
		}
		f.proxy(w, req, "file", "/file/bot"+f.token+"/"+tail, nil)
		return
	}
	f.callMethod(w, req, route, tail)
}

// callMethod checks one Bot API call of the tenant of route against the
// front's policy and passes it upstream if allowed.
func (f *front) callMethod(w http.ResponseWriter, req *http.Request, route *zakiv1.Route, tail string) {
	method := methodLabel(tail)
	if method == "other" {
		// Only a bare method name passes: a path like "x/../setWebhook"
		// must not slip past the checks below.
		f.fail(w, method, http.StatusNotFound, "Not Found: method not found")
		return
	}
	if answer, ok := swallowed[method]; ok {
		f.m.botAPICalls.WithLabelValues(method, "200").Inc()
		writeJSON(w, http.StatusOK, answer)
		return
	}
	if why := methodRefusal(method); why != "" {
		f.refuse(w, route, method, why)
		return
	}
	if _, err := url.ParseQuery(req.URL.RawQuery); err != nil {
		// Go drops a pair it cannot parse (one with ';'), so it could carry
		// a chat the checks below never see.
		f.fail(w, method, http.StatusBadRequest, "Bad Request: malformed query string")
		return
	}
	n := bodyReservation(req, f.maxBody)
	if !f.budget.reserve(route.GetTenantId(), n, f.maxBody) {
		f.busy(w, method)
		return
	}
	defer f.budget.release(route.GetTenantId(), n)
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, f.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			f.fail(w, method, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		f.fail(w, method, http.StatusBadRequest, "Bad Request: unreadable body")
		return
	}
	p, err := requestParams(req, body)
	if err != nil {
		f.refuse(w, route, method, err.Error())
		return
	}
	if why := paramsRefusal(method, p, route); why != "" {
		f.refuse(w, route, method, why)
		return
	}
	f.proxy(w, req, method, "/bot"+f.token+"/"+tail, body)
}

// authenticate returns the tenant whose pseudo token this is, or nil.
func (f *front) authenticate(token string) *zakiv1.Route {
	id, sec, ok := strings.Cut(token, ":")
	if !ok || id != f.botID || sec == "" {
		return nil
	}
	return f.cache.secret(sec)
}

// refuse answers 403 in Telegram's shape, saying why.
func (f *front) refuse(w http.ResponseWriter, route *zakiv1.Route, method, why string) {
	f.log.Debug("bot api call refused", "tenant", route.GetTenantId(), "method", method, "reason", why)
	f.fail(w, method, http.StatusForbidden, "Forbidden: "+why)
}

// proxy sends the call upstream with the real token and streams the answer
// back. body nil means no body (file downloads).
func (f *front) proxy(w http.ResponseWriter, req *http.Request, method, path string, body []byte) {
	target := f.api + path
	if req.URL.RawQuery != "" {
		target += "?" + req.URL.RawQuery
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, target, rd)
	if err != nil {
		f.fail(w, method, http.StatusBadRequest, "Bad Request")
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "" {
		out.Header.Set("Content-Type", ct)
	}
	resp, err := f.client.Do(out)
	if err != nil {
		f.log.Warn("bot api upstream failed", "method", method, "error", f.redact(err.Error()))
		f.fail(w, method, http.StatusBadGateway, "Bad Gateway: Telegram is unreachable")
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Content-Length", "Content-Disposition", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	f.m.botAPICalls.WithLabelValues(method, strconv.Itoa(resp.StatusCode)).Inc()
}

// redact replaces the real token in s by its fingerprint: errors of the
// HTTP client carry the request URL, and the URL carries the token.
func (f *front) redact(s string) string {
	return strings.ReplaceAll(s, f.token, secret.Fingerprint(f.token))
}

// fail answers in the Bot API's error shape.
func (f *front) fail(w http.ResponseWriter, method string, code int, desc string) {
	f.m.botAPICalls.WithLabelValues(method, strconv.Itoa(code)).Inc()
	b, _ := json.Marshal(struct {
		OK          bool   `json:"ok"`
		ErrorCode   int    `json:"error_code"`
		Description string `json:"description"`
	}{false, code, desc})
	writeJSON(w, code, string(b))
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// cleanFilePath accepts a file path as getFile returns it ("photos/file_3.jpg"):
// relative, with no empty, "." or ".." segments, and only letters, digits and
// "_.-/" — so nothing decoded from an escape ("%3F" into "?") can change the
// upstream URL's meaning.
func cleanFilePath(p string) bool {
	if p == "" {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_.-/", c)) {
			return false
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// methodLabel is the method name as a bounded metric label: Telegram's method
// names are case-insensitive letters.
// TODO(#4): label only the methods the Bot API has, so a container cannot
// grow the series without bound.
func methodLabel(m string) string {
	if m == "" || len(m) > 48 {
		return "other"
	}
	for _, c := range m {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "other"
		}
	}
	return strings.ToLower(m)
}
