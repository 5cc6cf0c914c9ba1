package router

import (
	"strconv"
	"strings"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// The front's policy: which Bot API calls a tenant's container may make.
// Every tenant shares one bot, so a call that changes the bot itself would
// change it for everyone, and a call about a chat or person outside the
// tenant's own would reach into someone else's assistant. The front checks,
// in order:
//
//  1. swallowed (front.go): setWebhook, deleteWebhook, getUpdates, logOut,
//     close, setMyCommands, deleteMyCommands are answered by the front
//     itself and never reach Telegram;
//  2. operatorOnly below, by method name alone: refused with 403;
//  3. setChatMenuButton without chat_id sets the bot's default menu button
//     for every chat: refused;
//  4. a business_connection_id: refused, see why below;
//  5. every chat the call names (chat_id, from_chat_id, reply_parameters)
//     must be bound to the tenant;
//  6. a user_id on a call with no chat_id (getUserProfilePhotos,
//     setUserEmojiStatus, savePreparedInlineMessage, …) must be the
//     tenant's owner: a user tenant's person, a group tenant's owner. With
//     a chat_id the chat check stands alone, so a group's assistant may
//     still act on its members (banChatMember, promoteChatMember, …).
//
// Everything else passes, including every read of the bot's own settings
// (getMe, getMyCommands, getMyName, getMyStarBalance, …). Method names are
// compared in lower case, as Telegram compares them without case.

const (
	whyOperator = "bot-wide settings are managed by the operator, not by one tenant"
	whyStars    = "the bot's Stars are the operator's, not one tenant's"
	whyLedger   = "the bot's Star transactions span every tenant"
	whyVerify   = "verifications speak for the operator's organization, not one tenant"
	// Business updates are not routed to tenants yet (TODO(#4)), so the
	// front cannot know which tenant owns a business connection; one
	// tenant must not act on another's business account.
	whyBusiness = "business connections cannot be checked against this assistant yet"
	// Sticker sets belong to the one shared bot and are named, not owned,
	// so one tenant could change another's set by its public name.
	// TODO(#4): record which tenant made a set and let it manage its own.
	whyStickers = "sticker sets are the whole bot's and cannot be changed by one assistant yet"
	whyChat     = "chat is not this assistant's"
	whyUser     = "user is not this assistant's person"
)

// operatorOnly lists, in lower case, the methods no tenant may call, with
// the reason the refusal gives.
var operatorOnly = map[string]string{
	// The bot's profile and defaults, seen by every user of the bot.
	"setmyname":                       whyOperator,
	"setmydescription":                whyOperator,
	"setmyshortdescription":           whyOperator,
	"setmydefaultadministratorrights": whyOperator,
	"setmyprofilephoto":               whyOperator,
	"removemyprofilephoto":            whyOperator,
	// Spending the bot's shared Star balance.
	"sendgift":                whyStars,
	"giftpremiumsubscription": whyStars,
	// Changing a sticker set, which every tenant shares.
	"addstickertoset":                   whyStickers,
	"setstickerpositioninset":           whyStickers,
	"deletestickerfromset":              whyStickers,
	"replacestickerinset":               whyStickers,
	"setstickeremojilist":               whyStickers,
	"setstickerkeywords":                whyStickers,
	"setstickermaskposition":            whyStickers,
	"setstickersettitle":                whyStickers,
	"setstickersetthumbnail":            whyStickers,
	"setcustomemojistickersetthumbnail": whyStickers,
	"deletestickerset":                  whyStickers,
	// Reading every tenant's payments at once.
	"getstartransactions": whyLedger,
	// Verifying on behalf of the organization that runs the bot.
	"verifyuser":             whyVerify,
	"verifychat":             whyVerify,
	"removeuserverification": whyVerify,
	"removechatverification": whyVerify,
}

// methodRefusal returns why method is refused whatever its parameters, or
// "". method is lower case.
func methodRefusal(method string) string {
	return operatorOnly[method]
}

// paramsRefusal returns why a call of method naming p is refused for the
// tenant of route, or "" to let it through. method is lower case.
func paramsRefusal(method string, p callParams, route *zakiv1.Route) string {
	if method == "setchatmenubutton" && !p.chatID {
		return whyOperator
	}
	if p.business {
		return whyBusiness
	}
	for _, c := range p.chats {
		if !ownsChat(route, c) {
			return whyChat
		}
	}
	if !p.chatID {
		for _, u := range p.users {
			if !isOwner(route, u) {
				return whyUser
			}
		}
	}
	return ""
}

func ownsChat(route *zakiv1.Route, chat string) bool {
	id, ok := parseID(chat)
	if !ok {
		return false // an @username cannot be checked against bound ids
	}
	for _, c := range route.GetChatIds() {
		if c == id {
			return true
		}
	}
	return false
}

// isOwner reports whether user is the person the tenant belongs to. A route
// without an owner has no person to match.
func isOwner(route *zakiv1.Route, user string) bool {
	id, ok := parseID(user)
	return ok && id > 0 && id == route.GetOwnerUserId()
}

func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return id, err == nil
}
