package controlplane

import (
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcdLog carries the embedded etcd's own errors into the control plane's
// log, in its format and under its name, instead of zap's JSON on stderr.
// Once the control plane starts closing etcd, the errors etcd logs about its
// listeners going away are expected and dropped.
type etcdLog struct {
	log     hclog.Logger
	closing atomic.Bool
}

func newEtcdLog(log hclog.Logger) *etcdLog { return &etcdLog{log: log.Named("etcd")} }

// zap returns the logger to hand to embed.Config.
func (l *etcdLog) zap() *zap.Logger { return zap.New(&etcdCore{l: l}) }

// etcdCore is a zapcore.Core that keeps errors only.
type etcdCore struct {
	l      *etcdLog
	fields []zapcore.Field
}

func (c *etcdCore) Enabled(lvl zapcore.Level) bool {
	return lvl >= zapcore.ErrorLevel && !c.l.closing.Load()
}

func (c *etcdCore) With(fields []zapcore.Field) zapcore.Core {
	return &etcdCore{l: c.l, fields: append(append([]zapcore.Field(nil), c.fields...), fields...)}
}

func (c *etcdCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *etcdCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(c.fields, fields...) {
		f.AddTo(enc)
	}
	args := make([]any, 0, 2*len(enc.Fields))
	for k, v := range enc.Fields {
		args = append(args, k, v)
	}
	c.l.log.Error(e.Message, args...)
	return nil
}

func (c *etcdCore) Sync() error { return nil }
