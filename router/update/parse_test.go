package update

import (
	"errors"
	"strconv"
	"testing"

	"github.com/zaki-platform/zaki/internal/samples"
)

// Ids above 2^32 everywhere: a user, a supergroup, an update.
const (
	uid   = 5000000000001
	gid   = -1009000000001
	upd   = 9000000000001
	usr   = `{"id":5000000000001,"is_bot":false,"first_name":"A"}`
	priv  = `{"id":5000000000001,"type":"private","first_name":"A"}`
	grp   = `{"id":-1009000000001,"type":"supergroup","title":"G"}`
	bot   = `{"id":6100000001,"is_bot":true,"first_name":"Z"}`
	msgIn = `{"message_id":1,"date":1,"chat":`
)

func member(status string) string {
	return `{"user":` + bot + `,"status":"` + status + `"}`
}

func body(typ, value string) string {
	return `{"update_id":9000000000001,"` + typ + `":` + value + `}`
}

func TestParseEveryType(t *testing.T) {
	user := Decision{Action: Deliver, Chat: uid, Create: true, Owner: uid}
	group := Decision{Action: Deliver, Chat: gid, Group: true}
	groupAdd := Decision{Action: Deliver, Chat: gid, Group: true, Create: true, Owner: uid}
	existingUser := Decision{Action: Deliver, Chat: uid, Owner: uid}
	tests := []struct {
		name, typ, value string
		want             Decision
	}{
		{"private message", "message", msgIn + priv + `,"from":` + usr + `,"text":"hi"}`, user},
		{"group message", "message", msgIn + grp + `,"from":` + usr + `}`, group},
		{"edited private", "edited_message", msgIn + priv + `,"edit_date":2}`, user},
		{"channel post", "channel_post", `{"message_id":1,"date":1,"chat":{"id":-1009000000001,"type":"channel"}}`, group},
		{"edited channel post", "edited_channel_post", `{"message_id":1,"date":1,"chat":{"id":-1009000000001,"type":"channel"}}`, group},
		{"migrate to", "message", `{"message_id":1,"date":1,"chat":{"id":-4000000001,"type":"group"},"migrate_to_chat_id":-1009000000001}`,
			Decision{Action: Deliver, Chat: -4000000001, Group: true, Bind: gid}},
		{"migrate from", "message", msgIn + grp + `,"migrate_from_chat_id":-4000000001}`,
			Decision{Action: Deliver, Chat: -4000000001, Group: true, Bind: gid}},
		{"business connection", "business_connection", `{"id":"b","user":` + usr + `,"user_chat_id":5000000000001,"date":1,"is_enabled":true}`, user},
		{"business message", "business_message", msgIn + priv + `}`, unroutable(ReasonBusiness)},
		{"edited business message", "edited_business_message", msgIn + priv + `}`, unroutable(ReasonBusiness)},
		{"deleted business messages", "deleted_business_messages", `{"business_connection_id":"b","chat":` + priv + `,"message_ids":[1]}`, unroutable(ReasonBusiness)},
		{"reaction", "message_reaction", `{"chat":` + grp + `,"message_id":1,"user":` + usr + `,"date":1,"old_reaction":[],"new_reaction":[{"type":"emoji","emoji":"👍"}]}`, group},
		{"reaction of an unknown kind", "message_reaction", `{"chat":` + grp + `,"message_id":1,"date":1,"old_reaction":[],"new_reaction":[{"type":"brand_new"}]}`, group},
		{"reaction count", "message_reaction_count", `{"chat":` + grp + `,"message_id":1,"date":1,"reactions":[]}`, group},
		{"inline query", "inline_query", `{"id":"q","from":` + usr + `,"query":"x","offset":""}`, user},
		{"chosen inline result", "chosen_inline_result", `{"result_id":"r","from":` + usr + `,"query":"x"}`, user},
		{"callback with message", "callback_query", `{"id":"c","from":` + usr + `,"chat_instance":"1","message":` + msgIn + grp + `}}`, group},
		{"callback with inaccessible message", "callback_query", `{"id":"c","from":` + usr + `,"chat_instance":"1","message":{"message_id":1,"date":0,"chat":` + priv + `}}`, user},
		{"callback from inline message", "callback_query", `{"id":"c","from":` + usr + `,"chat_instance":"1","inline_message_id":"im"}`, user},
		{"shipping query", "shipping_query", `{"id":"s","from":` + usr + `,"invoice_payload":"p","shipping_address":{}}`, user},
		{"pre-checkout query", "pre_checkout_query", `{"id":"p","from":` + usr + `,"currency":"XTR","total_amount":1,"invoice_payload":"p"}`, user},
		{"purchased paid media", "purchased_paid_media", `{"from":` + usr + `,"paid_media_payload":"p"}`, user},
		{"poll", "poll", `{"id":"p","question":"q","options":[],"total_voter_count":0,"is_closed":false,"is_anonymous":true,"type":"regular","allows_multiple_answers":false}`, unroutable(ReasonPoll)},
		{"poll answer", "poll_answer", `{"poll_id":"p","user":` + usr + `,"option_ids":[0]}`, unroutable(ReasonPoll)},
		{"bot added to group", "my_chat_member", `{"chat":` + grp + `,"from":` + usr + `,"date":1,"old_chat_member":` + member("left") + `,"new_chat_member":` + member("member") + `}`, groupAdd},
		{"bot made admin", "my_chat_member", `{"chat":` + grp + `,"from":` + usr + `,"date":1,"old_chat_member":` + member("left") + `,"new_chat_member":` + member("administrator") + `}`, groupAdd},
		{"bot removed from group", "my_chat_member", `{"chat":` + grp + `,"from":` + usr + `,"date":1,"old_chat_member":` + member("member") + `,"new_chat_member":` + member("left") + `}`, group},
		{"bot blocked", "my_chat_member", `{"chat":` + priv + `,"from":` + usr + `,"date":1,"old_chat_member":` + member("member") + `,"new_chat_member":` + member("kicked") + `}`, existingUser},
		{"bot unblocked", "my_chat_member", `{"chat":` + priv + `,"from":` + usr + `,"date":1,"old_chat_member":` + member("kicked") + `,"new_chat_member":` + member("member") + `}`, user},
		{"chat member", "chat_member", `{"chat":` + grp + `,"from":` + usr + `,"date":1,"old_chat_member":` + member("left") + `,"new_chat_member":` + member("member") + `}`, group},
		{"chat member, unknown status", "chat_member", `{"chat":` + grp + `,"from":` + usr + `,"date":1,"old_chat_member":` + member("left") + `,"new_chat_member":` + member("brand_new") + `}`, group},
		{"join request", "chat_join_request", `{"chat":` + grp + `,"from":` + usr + `,"user_chat_id":5000000000001,"date":1}`, group},
		{"chat boost", "chat_boost", `{"chat":` + grp + `,"boost":{"boost_id":"b","add_date":1,"expiration_date":2,"source":{"source":"premium","user":` + usr + `}}}`, group},
		{"removed chat boost", "removed_chat_boost", `{"chat":` + grp + `,"boost_id":"b","remove_date":1,"source":{"source":"premium","user":` + usr + `}}`, group},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(body(tt.typ, tt.value)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tt.want
			want.UpdateID, want.Type = upd, tt.typ
			if got != want {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
		seen[tt.typ] = true
	}
	for _, typ := range Types {
		if !seen[typ] {
			t.Errorf("no case covers update type %q", typ)
		}
	}
}

func TestParseBadInput(t *testing.T) {
	tests := []struct {
		name, body string
		want       Decision
		err        error
	}{
		{"not json", `{"update_id":`, Decision{}, ErrMalformed},
		{"array", `[1]`, Decision{}, ErrMalformed},
		{"no update_id", `{"message":{}}`, Decision{}, ErrMalformed},
		{"string update_id", `{"update_id":"1"}`, Decision{}, ErrMalformed},
		{"fractional update_id", `{"update_id":1.5}`, Decision{}, ErrMalformed},
		{"two payloads", `{"update_id":7,"message":{"chat":{"id":1,"type":"private"}},` +
			`"edited_message":{"chat":{"id":2,"type":"private"}}}`, Decision{}, ErrMalformed},
		{"a second payload that is null", `{"update_id":7,"edited_message":null,"message":"text"}`,
			Decision{UpdateID: 7, Type: "message", Action: Unroutable, Reason: ReasonUndecodable}, nil},
		{"unknown type", `{"update_id":9000000000001,"brand_new_update":{"x":1}}`, Decision{UpdateID: upd}, nil},
		{"only update_id", `{"update_id":7}`, Decision{UpdateID: 7}, nil},
		{"null message", `{"update_id":7,"message":null}`, Decision{UpdateID: 7}, nil},
		{"message without chat", `{"update_id":7,"message":{"message_id":1}}`,
			Decision{UpdateID: 7, Type: "message", Action: Unroutable, Reason: ReasonNoChat}, nil},
		{"undecodable value", `{"update_id":7,"message":"text"}`,
			Decision{UpdateID: 7, Type: "message", Action: Unroutable, Reason: ReasonUndecodable}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestParseSamples plays the shared sample conversation through Parse and a
// tiny model of the control plane's tenant rules (EnsureTenant, BindChat),
// and checks every update lands where the baseline table says.
func TestParseSamples(t *testing.T) {
	bound := map[int64]string{} // chat id -> tenant id
	for _, b := range samples.Updates() {
		d, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(%s): %v", b, err)
		}
		want, ok := samples.ExpectedTenant[d.UpdateID]
		if !ok {
			t.Fatalf("update %d has no expected tenant", d.UpdateID)
		}
		t.Run(strconv.FormatInt(d.UpdateID, 10), func(t *testing.T) {
			if got := resolve(bound, d); got != want {
				t.Errorf("%s routed to %q, want %q (decision %+v)", d.Type, got, want, d)
			}
		})
	}
}

func resolve(bound map[int64]string, d Decision) string {
	if d.Action != Deliver {
		return ""
	}
	tenant, ok := bound[d.Chat]
	if !ok && d.Create {
		if _, ownerKnown := bound[d.Owner]; d.Group && !ownerKnown {
			return "" // FAILED_PRECONDITION: a group's owner must be a tenant
		}
		tenant = strconv.FormatInt(d.Chat, 10)
		bound[d.Chat], ok = tenant, true
	}
	if !ok {
		return ""
	}
	if d.Bind != 0 {
		bound[d.Bind] = tenant
	}
	return tenant
}

// TestParseInvalidIDsAreUnroutable: ids Telegram never sends would be
// refused by the control plane on every retry, so the parser drops them.
func TestParseInvalidIDsAreUnroutable(t *testing.T) {
	invalid := Decision{Action: Unroutable, Reason: ReasonInvalid}
	tests := []struct {
		name, typ, value string
	}{
		{"private chat with negative id", "message", `{"message_id":1,"date":1,"chat":{"id":-77,"type":"private"},"text":"x"}`},
		{"group with positive id", "message", `{"message_id":1,"date":1,"chat":{"id":77,"type":"supergroup"},"text":"x"}`},
		{"channel with positive id", "channel_post", `{"message_id":1,"date":1,"chat":{"id":77,"type":"channel"}}`},
		{"negative user", "inline_query", `{"id":"q","from":{"id":-5,"is_bot":false,"first_name":"A"},"query":"x","offset":""}`},
		{"callback on a negative private chat", "callback_query", `{"id":"c","from":` + usr + `,"chat_instance":"1","message":{"message_id":1,"date":0,"chat":{"id":-9,"type":"private"}}}`},
		{"group added by a negative user", "my_chat_member", `{"chat":` + grp + `,"from":{"id":-5,"is_bot":false,"first_name":"A"},"date":1,"old_chat_member":` + member("left") + `,"new_chat_member":` + member("member") + `}`},
		{"migrated to a positive id", "message", `{"message_id":1,"date":1,"chat":{"id":-4000000001,"type":"group"},"migrate_to_chat_id":77}`},
		{"migrated from a positive id", "message", msgIn + grp + `,"migrate_from_chat_id":77}`},
		{"loose view, negative private chat", "message", `{"message_id":1,"date":1,"chat":{"id":-77,"type":"private"},"entities":"not a list"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(body(tt.typ, tt.value)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := invalid
			want.UpdateID, want.Type = upd, tt.typ
			if got != want {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
	t.Run("negative update_id", func(t *testing.T) {
		got, err := Parse([]byte(`{"update_id":-3,"message":` + msgIn + priv + `}}`))
		want := Decision{UpdateID: -3, Type: "message", Action: Unroutable, Reason: ReasonInvalid}
		if err != nil || got != want {
			t.Errorf("got %+v, %v\nwant %+v", got, err, want)
		}
	})
}
