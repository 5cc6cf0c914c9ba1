// Package obs holds what every long-running role shares for being observed: its
// logger and its operations HTTP server (/healthz, /readyz, /metrics).
package obs

import (
	"io"
	"os"

	"github.com/hashicorp/go-hclog"
)

// LogOptions configure a role's root logger. The zero value logs Info and
// above as text to stderr.
type LogOptions struct {
	Level  string    // trace, debug, info, warn, error; "" means info
	JSON   bool      // one JSON object per line instead of text
	Output io.Writer // nil means os.Stderr
}

// NewLogger returns the root logger of a process; roles take named
// sub-loggers from it (logger.Named("router")).
func NewLogger(name string, o LogOptions) hclog.Logger {
	out := o.Output
	if out == nil {
		out = os.Stderr
	}
	level := hclog.LevelFromString(o.Level)
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:            name,
		Level:           level,
		JSONFormat:      o.JSON,
		Output:          out,
		IncludeLocation: false,
	})
}
