package update

import (
	"encoding/json"

	"github.com/go-telegram/bot/models"
)

// chatRef is the part of a chat routing needs.
type chatRef struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

func (c chatRef) private() bool {
	// A chat without a type is private when its id is positive: group and
	// channel ids are negative.
	return c.Type == "private" || (c.Type == "" && c.ID > 0)
}

// view is what routing reads from one typed value.
type view struct {
	chat        *chatRef // the chat the update happened in, if any
	user        int64    // the acting user, if any
	newStatus   string   // my_chat_member: the bot's new status
	migrateTo   int64
	migrateFrom int64
}

// typedView decodes raw as the models type of typ.
func typedView(typ string, raw json.RawMessage) (view, error) {
	switch typ {
	case "message", "edited_message", "channel_post", "edited_channel_post":
		var m models.Message
		err := json.Unmarshal(raw, &m)
		return messageView(&m), err
	case "business_connection":
		var b models.BusinessConnection
		err := json.Unmarshal(raw, &b)
		return view{user: b.User.ID}, err
	case "message_reaction":
		var r models.MessageReactionUpdated
		err := json.Unmarshal(raw, &r)
		return view{chat: ref(r.Chat)}, err
	case "message_reaction_count":
		var r models.MessageReactionCountUpdated
		err := json.Unmarshal(raw, &r)
		return view{chat: ref(r.Chat)}, err
	case "inline_query":
		var q models.InlineQuery
		err := json.Unmarshal(raw, &q)
		return view{user: userID(q.From)}, err
	case "chosen_inline_result":
		var c models.ChosenInlineResult
		err := json.Unmarshal(raw, &c)
		return view{user: c.From.ID}, err
	case "callback_query":
		var q models.CallbackQuery
		err := json.Unmarshal(raw, &q)
		return callbackView(&q), err
	case "shipping_query":
		var q models.ShippingQuery
		err := json.Unmarshal(raw, &q)
		return view{user: userID(q.From)}, err
	case "pre_checkout_query":
		var q models.PreCheckoutQuery
		err := json.Unmarshal(raw, &q)
		return view{user: userID(q.From)}, err
	case "purchased_paid_media":
		var p models.PaidMediaPurchased
		err := json.Unmarshal(raw, &p)
		return view{user: p.From.ID}, err
	case "my_chat_member", "chat_member":
		var m models.ChatMemberUpdated
		err := json.Unmarshal(raw, &m)
		return view{chat: ref(m.Chat), user: m.From.ID, newStatus: string(m.NewChatMember.Type)}, err
	case "chat_join_request":
		var j models.ChatJoinRequest
		err := json.Unmarshal(raw, &j)
		return view{chat: ref(j.Chat), user: j.From.ID}, err
	case "chat_boost":
		var b models.ChatBoostUpdated
		err := json.Unmarshal(raw, &b)
		return view{chat: ref(b.Chat)}, err
	case "removed_chat_boost":
		var b models.ChatBoostRemoved
		err := json.Unmarshal(raw, &b)
		return view{chat: ref(b.Chat)}, err
	}
	return view{}, nil
}

func messageView(m *models.Message) view {
	v := view{chat: ref(m.Chat), user: userID(m.From)}
	v.migrateTo, v.migrateFrom = m.MigrateToChatID, m.MigrateFromChatID
	return v
}

// callbackView keys a button press by the message it belongs to (also one too
// old to load, date 0), or by its user when it came from an inline message.
func callbackView(q *models.CallbackQuery) view {
	v := view{user: q.From.ID}
	switch {
	case q.Message.Message != nil:
		v.chat = ref(q.Message.Message.Chat)
	case q.Message.InaccessibleMessage != nil:
		v.chat = ref(q.Message.InaccessibleMessage.Chat)
	}
	return v
}

func ref(c models.Chat) *chatRef {
	if c.ID == 0 {
		return nil
	}
	return &chatRef{ID: c.ID, Type: string(c.Type)}
}

func userID(u *models.User) int64 {
	if u == nil {
		return 0
	}
	return u.ID
}

// loose is the routing subset of every update type, for values the models
// package refuses.
type loose struct {
	Chat          *chatRef            `json:"chat"`
	From          *struct{ ID int64 } `json:"from"`
	User          *struct{ ID int64 } `json:"user"`
	Message       *loose              `json:"message"`
	NewChatMember *struct {
		Status string `json:"status"`
	} `json:"new_chat_member"`
	MigrateTo   int64 `json:"migrate_to_chat_id"`
	MigrateFrom int64 `json:"migrate_from_chat_id"`
}

func looseView(typ string, raw json.RawMessage) (view, error) {
	var l loose
	if err := json.Unmarshal(raw, &l); err != nil {
		return view{}, err
	}
	v := view{chat: l.Chat, migrateTo: l.MigrateTo, migrateFrom: l.MigrateFrom}
	if v.chat != nil && v.chat.ID == 0 {
		v.chat = nil
	}
	switch {
	case l.From != nil:
		v.user = l.From.ID
	case l.User != nil:
		v.user = l.User.ID
	}
	if typ == "callback_query" && l.Message != nil && l.Message.Chat != nil {
		v.chat = l.Message.Chat
	}
	if l.NewChatMember != nil {
		v.newStatus = l.NewChatMember.Status
	}
	return v, nil
}
