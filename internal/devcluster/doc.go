// Package devcluster runs a whole Zaki on one machine in one process: embedded
// etcd and the control plane, one agent on the local Docker Engine, the router,
// and (without a real bot token) a local Telegram stand-in. It backs `zaki dev`
// and the tests that exercise the main job end to end.
//
// It may import every Zaki package; nothing but cmd/zaki and tests import it.
package devcluster
