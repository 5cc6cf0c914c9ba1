package router

import (
	"io"
	"net/http"
	"strings"
	"testing"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

const (
	bigGroup = -1009000000001
	// forbiddenBotWide is the whole answer to a bot-wide call.
	forbiddenBotWide = `{"ok":false,"error_code":403,"description":"Forbidden: bot-wide settings are managed by the operator, not by one tenant"}`
)

// groupTenant registers a group tenant for chat, owned by owner.
func groupTenant(h *harness, chat, owner int64) *zakiv1.Route {
	r := tenantRoute("g1", zakiv1.TenantKind_TENANT_KIND_GROUP, chat)
	r.OwnerUserId = owner
	h.cp.setRoute(r)
	h.eventually("group route cached", func() bool { return h.r.cache.tenant("g1") != nil })
	return r
}

// frontCase is one call through the front: 200 means it must reach
// upstream, anything else that it must not.
type frontCase struct {
	name, verb, path, ct, body string
	want                       int
	wantBody                   string // "" = do not check
}

func (h *harness) runFront(t *testing.T, tests []frontCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.upstream.got())
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			code, answer := h.call(tt.verb, tt.path, tt.ct, body)
			if code != tt.want {
				t.Errorf("status %d (%s), want %d", code, answer, tt.want)
			}
			if tt.wantBody != "" && answer != tt.wantBody {
				t.Errorf("body %s, want %s", answer, tt.wantBody)
			}
			if reached := len(h.upstream.got()) > before; reached != (tt.want == http.StatusOK) {
				t.Errorf("reached upstream: %v, with status %d", reached, code)
			}
		})
	}
}

// TestFrontRefusesBotWideMethods: one tenant must not change the bot that
// every tenant shares; reading the bot's settings is fine.
func TestFrontRefusesBotWideMethods(t *testing.T) {
	h := newHarness(t)
	bot := "/bot" + pseudo(userTenant(h, nil, bigUser)) + "/"
	tests := []frontCase{
		{"setMyName", "POST", bot + "setMyName", "application/json", `{"name":"Mine now"}`, 403, forbiddenBotWide},
		{"setMyName in upper case", "POST", bot + "SETMYNAME", "application/json", `{"name":"x"}`, 403, forbiddenBotWide},
		{"setMyName in lower case, by query", "GET", bot + "setmyname?name=x", "", "", 403, forbiddenBotWide},
		{"setMyDescription", "POST", bot + "setMyDescription", "application/json", `{"description":"x"}`, 403, forbiddenBotWide},
		{"setMyShortDescription", "POST", bot + "setMyShortDescription", "application/x-www-form-urlencoded", `short_description=x`, 403, forbiddenBotWide},
		{"setMyDefaultAdministratorRights", "POST", bot + "setMyDefaultAdministratorRights", "application/json", `{"rights":{}}`, 403, forbiddenBotWide},
		{"removeMyProfilePhoto", "POST", bot + "removeMyProfilePhoto", "", "", 403, forbiddenBotWide},
		{"setChatMenuButton without chat", "POST", bot + "setChatMenuButton", "application/json", `{"menu_button":{"type":"commands"}}`, 403, forbiddenBotWide},
		{"setChatMenuButton for own chat", "POST", bot + "setChatMenuButton", "application/json", `{"chat_id":5000000000001,"menu_button":{"type":"commands"}}`, 200, ""},
		{"setChatMenuButton for another chat", "POST", bot + "setChatMenuButton", "application/json", `{"chat_id":5000000000002}`, 403, ""},
		{"sendGift spends the bot's Stars", "POST", bot + "sendGift", "application/json", `{"user_id":5000000000001,"gift_id":"g"}`, 403, ""},
		{"getStarTransactions spans every tenant", "GET", bot + "getStarTransactions", "", "", 403, ""},
		{"deleteStickerSet by its public name", "POST", bot + "deleteStickerSet", "application/json", `{"name":"x_by_bot"}`, 403, ""},
		{"setStickerSetTitle", "POST", bot + "setStickerSetTitle", "application/json", `{"name":"x_by_bot","title":"mine"}`, 403, ""},
		{"getMe", "GET", bot + "getMe", "", "", 200, ""},
		{"getMyCommands", "POST", bot + "getMyCommands", "", "", 200, ""},
		{"getMyName", "POST", bot + "getMyName", "", "", 200, ""},
		{"getMyDefaultAdministratorRights", "POST", bot + "getMyDefaultAdministratorRights", "", "", 200, ""},
		{"getChatMenuButton", "POST", bot + "getChatMenuButton", "", "", 200, ""},
	}
	h.runFront(t, tests)
	t.Run("setMyProfilePhoto multipart", func(t *testing.T) {
		before := len(h.upstream.got())
		ct, body := multipartBody(t, map[string]string{"photo": `{"type":"static","photo":"attach://photo"}`})
		code, answer := h.call("POST", bot+"setMyProfilePhoto", ct, body)
		if code != 403 || answer != forbiddenBotWide || len(h.upstream.got()) != before {
			t.Errorf("got %d %s", code, answer)
		}
	})
	if n := h.counter(h.r.m.botAPICalls.WithLabelValues("setmyname", "403")); n != 3 {
		t.Errorf("botapi_calls{setmyname,403} = %v, want 3", n)
	}
}

// TestFrontUserIDMustBeTenantsPerson: a call about a user and no chat may
// only name the tenant's own person; with a chat, the chat check decides.
func TestFrontUserIDMustBeTenantsPerson(t *testing.T) {
	h := newHarness(t)
	user := "/bot" + pseudo(userTenant(h, nil, bigUser)) + "/"
	group := "/bot" + pseudo(groupTenant(h, bigGroup, bigUser)) + "/"
	const json = "application/json"
	tests := []frontCase{
		{"own photos", "POST", user + "getUserProfilePhotos", json, `{"user_id":5000000000001}`, 200, ""},
		{"own photos, id as string", "POST", user + "getUserProfilePhotos", json, `{"user_id":"5000000000001"}`, 200, ""},
		{"someone else's photos", "POST", user + "getUserProfilePhotos", json, `{"user_id":5000000000002}`, 403,
			`{"ok":false,"error_code":403,"description":"Forbidden: user is not this assistant's person"}`},
		{"someone else's photos, by query", "GET", user + "getUserProfilePhotos?user_id=5000000000002", "", "", 403, ""},
		{"someone else's photos, form", "POST", user + "getUserProfilePhotos", "application/x-www-form-urlencoded", `user_id=5000000000002`, 403, ""},
		{"duplicate user_id", "POST", user + "getUserProfilePhotos", json, `{"user_id":5000000000001,"user_id":5000000000002}`, 403, ""},
		{"user_id not a number", "POST", user + "getUserProfilePhotos", json, `{"user_id":"@someone"}`, 403, ""},
		{"someone else's boosts, no chat", "POST", user + "getUserChatBoosts", json, `{"user_id":5000000000002}`, 403, ""},
		{"someone else's emoji status", "POST", user + "setUserEmojiStatus", json, `{"user_id":5000000000002,"emoji_status_custom_emoji_id":"1"}`, 403, ""},
		{"own emoji status", "POST", user + "setUserEmojiStatus", json, `{"user_id":5000000000001}`, 200, ""},
		{"group owner's photos", "POST", group + "getUserProfilePhotos", json, `{"user_id":5000000000001}`, 200, ""},
		{"group member's photos, no chat", "POST", group + "getUserProfilePhotos", json, `{"user_id":5000000000002}`, 403, ""},
		{"group admin bans a member", "POST", group + "banChatMember", json, `{"chat_id":-1009000000001,"user_id":5000000000002}`, 200, ""},
		{"group admin reads a member", "POST", group + "getChatMember", json, `{"chat_id":-1009000000001,"user_id":5000000000002}`, 200, ""},
		{"user id with a foreign chat", "POST", group + "banChatMember", json, `{"chat_id":-1009000000002,"user_id":5000000000001}`, 403, ""},
		{"business connection", "POST", user + "sendMessage", json, `{"business_connection_id":"bc1","chat_id":5000000000001,"text":"x"}`, 403,
			`{"ok":false,"error_code":403,"description":"Forbidden: business connections cannot be checked against this assistant yet"}`},
		{"business account by form", "POST", user + "setBusinessAccountName", "application/x-www-form-urlencoded", `business_connection_id=bc1&first_name=x`, 403, ""},
		{"empty business connection", "POST", user + "sendMessage", json, `{"business_connection_id":"","chat_id":5000000000001}`, 200, ""},
	}
	h.runFront(t, tests)
}

// TestPolicyIsPure checks the decision table without HTTP, including the
// corners the integration tests cannot reach.
func TestPolicyIsPure(t *testing.T) {
	owned := &zakiv1.Route{OwnerUserId: 7, ChatIds: []int64{7}}
	ownerless := &zakiv1.Route{ChatIds: []int64{-5}}
	tests := []struct {
		name, method string
		p            callParams
		route        *zakiv1.Route
		want         string
	}{
		{"owner", "getuserprofilephotos", callParams{users: []string{"7"}}, owned, ""},
		{"no owner matches nobody", "getuserprofilephotos", callParams{users: []string{"0"}}, ownerless, whyUser},
		{"chat decides when present", "banchatmember", callParams{chatID: true, chats: []string{"-5"}, users: []string{"9"}}, ownerless, ""},
		{"from_chat_id alone is not a chat_id", "setchatmenubutton", callParams{chats: []string{"7"}}, owned, whyOperator},
		{"menu button for own chat", "setchatmenubutton", callParams{chatID: true, chats: []string{"7"}}, owned, ""},
		{"business", "getbusinessconnection", callParams{business: true}, owned, whyBusiness},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := paramsRefusal(tt.method, tt.p, tt.route); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	for m := range operatorOnly {
		if m != strings.ToLower(m) || methodLabel(m) != m {
			t.Errorf("operatorOnly key %q must be a lower-case method name", m)
		}
	}
}
