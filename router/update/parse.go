package update

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrMalformed is returned for a body that is not a JSON object with an
// integer update_id, or that carries more than one payload. The webhook
// answers it with 400.
var ErrMalformed = errors.New("malformed update")

// Action says what the router does with an update.
type Action int

const (
	// Unknown is a top-level type this router does not know: answered 2xx,
	// counted, delivered nowhere.
	Unknown Action = iota
	// Unroutable is a known type with no tenant to go to (Reason says why):
	// answered 2xx, counted, delivered nowhere.
	Unroutable
	// Deliver goes to the tenant bound to Decision.Chat.
	Deliver
)

// Reasons an update is unroutable, used as metric labels.
const (
	ReasonNoChat      = "no_chat"     // the update names no chat or user
	ReasonBusiness    = "business"    // business messages: TODO(#4) route to the connection's owner
	ReasonPoll        = "poll"        // polls: TODO(#4) route to the tenant that sent the poll
	ReasonUndecodable = "undecodable" // the typed value did not decode even loosely
	// ReasonInvalid: an id Telegram never sends (a private chat or user id
	// not above zero, a group id not below it, a negative update_id). The
	// control plane would refuse it on every retry, so it is dropped here.
	ReasonInvalid = "invalid"
)

// Decision is where one update goes. The zero value is an Unknown update.
type Decision struct {
	UpdateID int64
	// Type is the update's top-level field ("message", "callback_query", …),
	// or "" when the type is unknown.
	Type   string
	Action Action
	Reason string // for Unroutable

	// Chat keys the tenant: a private chat (equal to the user id) or a group,
	// supergroup or channel. Set when Action is Deliver.
	Chat int64
	// Group is true when Chat is a group, supergroup or channel.
	Group bool
	// Create allows the tenant to be created when none is bound to Chat.
	Create bool
	// Owner is the person a created tenant belongs to: the user for a
	// private chat, whoever added the bot for a group.
	Owner int64
	// Bind, when not zero, is a chat to bind to the tenant of Chat before
	// delivering (a group migrated to a supergroup).
	Bind int64
}

// Types lists every top-level update type this router routes, in the order
// it looks for them. It doubles as setWebhook's allowed_updates.
var Types = []string{
	"message", "edited_message", "channel_post", "edited_channel_post",
	"business_connection", "business_message", "edited_business_message",
	"deleted_business_messages", "message_reaction", "message_reaction_count",
	"inline_query", "chosen_inline_result", "callback_query", "shipping_query",
	"pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
	"my_chat_member", "chat_member", "chat_join_request", "chat_boost",
	"removed_chat_boost",
}

// Parse decides where body goes. It reads the top level as raw fields so the
// update_id keeps all 64 bits and unknown fields are left alone; only the
// field that names the type is decoded further.
func Parse(body []byte) (Decision, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return Decision{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	rawID, ok := top["update_id"]
	if !ok {
		return Decision{}, fmt.Errorf("%w: no update_id", ErrMalformed)
	}
	var id int64
	if err := strictInt(rawID, &id); err != nil {
		return Decision{}, fmt.Errorf("%w: update_id: %v", ErrMalformed, err)
	}
	typ := ""
	for _, t := range Types {
		if raw, ok := top[t]; ok && !isNull(raw) {
			if typ != "" {
				// Telegram sends one payload per update. Two could belong to
				// two chats, and the body is forwarded whole: refusing it is
				// the only way neither tenant sees the other's.
				return Decision{}, fmt.Errorf("%w: update %d carries both %s and %s", ErrMalformed, id, typ, t)
			}
			typ = t
		}
	}
	if typ != "" {
		d := route(typ, top[typ])
		if id < 0 {
			d = unroutable(ReasonInvalid)
		}
		d.UpdateID, d.Type = id, typ
		return d, nil
	}
	return Decision{UpdateID: id, Action: Unknown}, nil
}

// strictInt decodes an integer without a float detour, so ids above 2^53
// would survive too.
func strictInt(raw json.RawMessage, v *int64) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return errors.New("not a number")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var n json.Number
	if err := dec.Decode(&n); err != nil {
		return err
	}
	i, err := n.Int64()
	if err != nil {
		return err
	}
	*v = i
	return nil
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// route decodes the typed value, falling back to a loose view holding only
// the routing fields when the typed decode fails (the models package refuses
// variants newer than itself, and an update must not be lost for that).
func route(typ string, raw json.RawMessage) Decision {
	switch typ {
	case "business_message", "edited_business_message", "deleted_business_messages":
		return unroutable(ReasonBusiness)
	case "poll", "poll_answer":
		return unroutable(ReasonPoll)
	}
	v, err := typedView(typ, raw)
	if err != nil {
		if v, err = looseView(typ, raw); err != nil {
			return unroutable(ReasonUndecodable)
		}
	}
	return checkIDs(decide(typ, v))
}

func unroutable(reason string) Decision {
	return Decision{Action: Unroutable, Reason: reason}
}
