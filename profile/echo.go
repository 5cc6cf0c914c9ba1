package profile

import "time"

// echoProfile is the stand-in assistant of tests and the offline demo: the
// image deploy/docker/echo.Dockerfile builds from cmd/zaki-echo. Its env
// contract is documented in cmd/zaki-echo.
func echoProfile() Profile {
	return Profile{
		Name:         "echo",
		Image:        "zaki-echo:v1", // = internal/images.EchoTag
		User:         "1000:1000",
		WebhookPort:  8787,
		WebhookPath:  "/telegram-webhook",
		HealthPort:   8787,
		HealthPath:   "/healthz",
		ReadyPort:    8787,
		ReadyPath:    "/readyz",
		ReadyTimeout: Duration(30 * time.Second),
		VolumePath:   "/data",
		Env: map[string]string{
			"ZAKI_ECHO_BOT_TOKEN":      "{{.BotToken}}",
			"ZAKI_ECHO_API_ROOT":       "{{.APIRoot}}",
			"ZAKI_ECHO_WEBHOOK_SECRET": "{{.WebhookSecret}}",
			"ZAKI_ECHO_TENANT":         "{{.TenantID}}",
		},
		MemoryBytes: 64 << 20,
		NanoCPUs:    250_000_000,
		PidsLimit:   64,
	}
}
