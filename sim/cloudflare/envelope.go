package cloudflare

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/sourcegraph/lifecycle/sim"
)

// apiError is one entry of the envelope's errors (and messages) list.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// resultInfo is the pagination block of list responses; cloudflare-go uses total_pages to decide
// whether to fetch the next page.
type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

type envelope struct {
	Success    bool        `json:"success"`
	Errors     []apiError  `json:"errors"`
	Messages   []apiError  `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *resultInfo `json:"result_info,omitempty"`
}

// setRay adds a cf-ray header like every Cloudflare response has; cloudflare-go copies it into
// its errors (RayID).
func setRay(w http.ResponseWriter) {
	var b [8]byte
	rand.Read(b[:])
	w.Header().Set("cf-ray", hex.EncodeToString(b[:])+"-SIM")
}

func writeResult(w http.ResponseWriter, status int, result any, info *resultInfo) {
	setRay(w)
	// Compact, as Cloudflare answers: a zone's rulesets run to hundreds of kilobytes with a
	// fleet's allowlists, and indenting them was a fifth of the simulator's time.
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(envelope{Success: true, Errors: []apiError{}, Messages: []apiError{}, Result: result, ResultInfo: info})
}

func writeErrors(w http.ResponseWriter, status int, errs ...apiError) {
	setRay(w)
	sim.WriteJSON(w, status, envelope{Success: false, Errors: errs, Messages: []apiError{}})
}

// writeInjectedError renders fault-injected errors in the envelope, with the codes Cloudflare
// uses for them.
func writeInjectedError(w http.ResponseWriter, status int, message string) {
	code := 10001
	switch status {
	case http.StatusTooManyRequests:
		code = 971
	case http.StatusUnauthorized, http.StatusForbidden:
		code = 10000
	case http.StatusNotFound:
		code = 7003
	}
	writeErrors(w, status, apiError{code, message})
}

// paginate slices items by the page and per_page query parameters and describes the slice.
func paginate[T any](r *http.Request, items []T, defaultPerPage, maxPerPage int) ([]T, *resultInfo) {
	q := r.URL.Query()
	pageNo, _ := strconv.Atoi(q.Get("page"))
	pageNo = max(pageNo, 1)
	perPage, _ := strconv.Atoi(q.Get("per_page"))
	if perPage <= 0 {
		perPage = defaultPerPage
	}
	perPage = min(perPage, maxPerPage)
	start := min((pageNo-1)*perPage, len(items))
	end := min(start+perPage, len(items))
	out := items[start:end]
	return out, &resultInfo{
		Page: pageNo, PerPage: perPage, Count: len(out), TotalCount: len(items),
		TotalPages: (len(items) + perPage - 1) / perPage,
	}
}
