package update

// decide applies design.md §5.2 to one view.
func decide(typ string, v view) Decision {
	switch typ {
	case "business_connection", "inline_query", "chosen_inline_result",
		"shipping_query", "pre_checkout_query", "purchased_paid_media":
		return userTenant(v.user)
	case "callback_query":
		if v.chat == nil {
			return userTenant(v.user) // from an inline message
		}
		return chatTenant(*v.chat)
	case "my_chat_member":
		return botMembership(v)
	case "message", "edited_message", "channel_post", "edited_channel_post":
		return message(v)
	}
	if v.chat == nil {
		return unroutable(ReasonNoChat)
	}
	return chatTenant(*v.chat)
}

// userTenant is the person's own tenant, keyed by their private chat (whose id
// equals the user id); it may be created.
func userTenant(user int64) Decision {
	if user == 0 {
		return unroutable(ReasonNoChat)
	}
	return Decision{Action: Deliver, Chat: user, Create: true, Owner: user}
}

// chatTenant is the tenant of the chat: a private chat's person (created on
// first contact) or the tenant bound to a group, which an ordinary update
// never creates.
func chatTenant(c chatRef) Decision {
	if c.ID == 0 {
		return unroutable(ReasonNoChat)
	}
	if c.private() {
		return userTenant(c.ID)
	}
	return Decision{Action: Deliver, Chat: c.ID, Group: true}
}

// botMembership handles changes of the bot's own membership. Added to a group
// by someone: that group's tenant, owned by them, may be created. Blocked in a
// private chat: only an existing tenant hears of it, a block never starts one.
func botMembership(v view) Decision {
	if v.chat == nil {
		return unroutable(ReasonNoChat)
	}
	c := *v.chat
	if c.private() {
		d := userTenant(c.ID)
		d.Create = v.newStatus != "kicked" && v.newStatus != "left"
		return d
	}
	d := chatTenant(c)
	if (v.newStatus == "member" || v.newStatus == "administrator") && v.user != 0 {
		d.Create, d.Owner = true, v.user
	}
	return d
}

// message routes by chat, and re-keys a migrated group: the old group's
// service message names the new supergroup, and the supergroup's first
// message names the old group; both go to the old group's tenant.
func message(v view) Decision {
	if v.chat == nil {
		return unroutable(ReasonNoChat)
	}
	switch {
	case v.migrateTo != 0:
		d := chatTenant(*v.chat)
		d.Bind = v.migrateTo
		return d
	case v.migrateFrom != 0:
		d := chatTenant(chatRef{ID: v.migrateFrom, Type: "group"})
		d.Bind = v.chat.ID
		return d
	}
	return chatTenant(*v.chat)
}

// checkIDs turns a delivery whose ids break Telegram's rules into an
// Unroutable one: a person's chat and user ids are positive, group, supergroup
// and channel ids negative. The control plane refuses such ids
// (InvalidArgument) on every try, and Telegram would resend the update
// forever.
func checkIDs(d Decision) Decision {
	if d.Action != Deliver {
		return d
	}
	switch {
	case !d.Group && d.Chat <= 0,
		d.Group && d.Chat >= 0,
		d.Owner < 0,
		d.Bind > 0:
		return unroutable(ReasonInvalid)
	}
	return d
}
