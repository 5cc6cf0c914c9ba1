package e2e

import (
	"fmt"
	"sync/atomic"
)

// Ids above 2^32 everywhere: people, groups and updates, as Telegram sends them.
const (
	mina  int64 = 5010000001
	omar  int64 = 5010000002
	lena  int64 = 7300000003
	group int64 = -4010000001
	botID int64 = 6100000001
)

var names = map[int64]string{mina: "Mina", omar: "Omar", lena: "Lena", group: "Family"}

// updates makes Bot API updates with increasing ids above 2^32.
type updates struct{ next atomic.Int64 }

func newUpdates() *updates {
	u := &updates{}
	u.next.Store(6_000_000_000)
	return u
}

func (u *updates) id() int64 { return u.next.Add(1) }

// private is a text message in a person's private chat with the bot.
func (u *updates) private(user int64, text string) (int64, []byte) {
	id := u.id()
	return id, fmt.Appendf(nil, `{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":%q},`+
		`"chat":{"id":%d,"first_name":%q,"type":"private"},"date":1764763200,"text":%q,"x_future_field":{"kept":true}}}`,
		id, id%100000, user, names[user], user, names[user], text)
}

// groupText is a text message in the group.
func (u *updates) groupText(from int64, text string) (int64, []byte) {
	id := u.id()
	return id, fmt.Appendf(nil, `{"update_id":%d,"message":{"message_id":%d,"from":{"id":%d,"is_bot":false,"first_name":%q},`+
		`"chat":{"id":%d,"title":"Family","type":"group"},"date":1764763200,"text":%q}}`,
		id, id%100000, from, names[from], group, text)
}

// groupAdded says that by added the bot to the group.
func (u *updates) groupAdded(by int64) (int64, []byte) {
	id := u.id()
	return id, fmt.Appendf(nil, `{"update_id":%d,"my_chat_member":{"chat":{"id":%d,"title":"Family","type":"group"},`+
		`"from":{"id":%d,"is_bot":false,"first_name":%q},"date":1764763230,`+
		`"old_chat_member":{"user":{"id":%d,"is_bot":true,"first_name":"Zaki"},"status":"left"},`+
		`"new_chat_member":{"user":{"id":%d,"is_bot":true,"first_name":"Zaki"},"status":"member"}}}`,
		id, group, by, names[by], botID, botID)
}
