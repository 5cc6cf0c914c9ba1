package router

import (
	"net/http"
	"strconv"
	"sync"
)

// uploadBudget bounds the memory the front spends holding call bodies: the
// front reads a whole body before passing it on, to check every chat it
// names, so without a bound a few tenants uploading large files at once
// could take all of the router's memory and with it every other tenant's
// service. All tenants together may hold budgetCalls full-size bodies; one
// tenant may hold one. A call over budget is answered 429 with retry_after,
// which Bot API clients already honour.
//
// The zero value is ready to use.
type uploadBudget struct {
	mu       sync.Mutex // guards the fields below
	total    int64
	byTenant map[string]int64
}

// budgetCalls is how many full-size bodies all tenants together may hold.
const budgetCalls = 4

// reserve takes n bytes for tenant out of a budget sized by maxBody, or
// reports false when either the tenant's or the router's share is spent.
func (b *uploadBudget) reserve(tenant string, n, maxBody int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.total+n > budgetCalls*maxBody || b.byTenant[tenant]+n > maxBody {
		return false
	}
	if b.byTenant == nil {
		b.byTenant = map[string]int64{}
	}
	b.total += n
	b.byTenant[tenant] += n
	return true
}

// release gives back what reserve took.
func (b *uploadBudget) release(tenant string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total -= n
	if b.byTenant[tenant] -= n; b.byTenant[tenant] <= 0 {
		delete(b.byTenant, tenant)
	}
}

// bodyReservation is what to reserve for req: its declared length, or the
// most a body may be when the length is not declared.
func bodyReservation(req *http.Request, maxBody int64) int64 {
	if req.ContentLength >= 0 && req.ContentLength < maxBody {
		return req.ContentLength
	}
	return maxBody
}

// busy answers 429 in Telegram's shape, with a retry_after clients honour.
func (f *front) busy(w http.ResponseWriter, method string) {
	f.m.botAPICalls.WithLabelValues(method, strconv.Itoa(http.StatusTooManyRequests)).Inc()
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusTooManyRequests, `{"ok":false,"error_code":429,`+
		`"description":"Too Many Requests: the router is busy with other uploads; retry after 1",`+
		`"parameters":{"retry_after":1}}`)
}
