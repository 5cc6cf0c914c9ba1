// Package version says which build of Zaki is running.
package version

// Version is set at build time with -ldflags "-X .../internal/version.Version=...".
var Version = "dev"
