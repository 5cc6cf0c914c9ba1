package router

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

func TestUploadBudget(t *testing.T) {
	const max = 100
	var b uploadBudget
	steps := []struct {
		name   string
		tenant string
		n      int64
		want   bool
	}{
		{"a full-size body", "a", max, true},
		{"a second body of the same tenant is over its share", "a", 1, false},
		{"another tenant", "b", max, true},
		{"a third", "c", max, true},
		{"a fourth fills the router's share", "d", max, true},
		{"a fifth tenant waits", "e", 1, false},
	}
	for _, s := range steps {
		if got := b.reserve(s.tenant, s.n, max); got != s.want {
			t.Fatalf("%s: reserve(%s, %d) = %v, want %v", s.name, s.tenant, s.n, got, s.want)
		}
	}
	b.release("a", max)
	if !b.reserve("e", max, max) {
		t.Error("a released share is not reusable")
	}
	if !b.reserve("a", 0, max) || len(b.byTenant) != 5 {
		t.Errorf("shares after release: %v", b.byTenant)
	}
}

// TestFrontBoundsHeldBodies: while one upload of a tenant is being read, a
// second call of the same tenant is answered 429 with retry_after; another
// tenant is served; once the upload ends the tenant is served again.
func TestFrontBoundsHeldBodies(t *testing.T) {
	h := newHarness(t)
	route := userTenant(h, nil, bigUser)
	other := userTenant(h, nil, bigUser+1)
	send := func(r *zakiv1.Route, chat int64) (int, string) {
		return h.call(http.MethodPost, "/bot"+pseudo(r)+"/sendMessage", "application/json",
			strings.NewReader(fmt.Sprintf(`{"chat_id":%d,"text":"x"}`, chat)))
	}

	// An upload of undeclared length holds a full share until it ends.
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code, _ := h.call(http.MethodPost, "/bot"+pseudo(route)+"/sendDocument", "application/json", pr)
		done <- code
	}()
	_, _ = pw.Write([]byte(`{"chat_id":5000000000001,`))
	h.eventually("the upload holds the tenant's share", func() bool {
		code, _ := send(route, bigUser)
		return code == http.StatusTooManyRequests
	})
	if code, body := send(other, bigUser+1); code != http.StatusOK {
		t.Errorf("another tenant during the upload: %d (%s), want 200", code, body)
	}
	_, _ = pw.Write([]byte(`"document":"x"}`))
	pw.Close()
	<-done
	if code, body := send(route, bigUser); code != http.StatusOK {
		t.Errorf("after the upload: %d (%s), want 200", code, body)
	}
}
