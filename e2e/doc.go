// Package e2e runs Zaki's main job end to end on the real Docker Engine: the
// zaki binary's roles as separate processes, a local Telegram stand-in, and
// each person's echo container. It has tests only.
package e2e
