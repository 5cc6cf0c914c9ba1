// Package tgstandin is a local stand-in for the Telegram Bot API, for `zaki
// dev` and tests: it serves /bot<token>/<method> on loopback for one bot with
// a random token, answers the methods Zaki's parts call with Telegram-shaped
// JSON, and records every call so a test or the demo can see what the bot
// "said". Play posts updates to a webhook the way Telegram does.
//
// It is not a Telegram emulator: there are no users, no chats to check
// against, no rate limits and no file storage. It imports the standard
// library and hclog only.
package tgstandin
