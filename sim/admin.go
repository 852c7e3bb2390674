package sim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// adminRoutes serves /_sim/...: state inspection, fault injection, timings and reset. These are the
// simulator's own endpoints; no real API has them. Parts add their own: POST /_sim/releases/{v}
// (sim/instances), /_sim/github/... and POST /_sim/fleet (sim/stack).
func (s *Sim) adminRoutes() {
	m := s.mux
	m.HandleFunc("GET /_sim/healthz", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, map[string]string{"status": "ok"}) })
	m.HandleFunc("GET /_sim/state", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, s.Snapshot()) })
	m.HandleFunc("GET /_sim/ledger", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, s.Ledger()) })
	m.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		WriteJSON(w, 200, map[string]string{"status": "reset"})
	})
	m.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, s.Faults()) })
	m.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := DecodeJSON(r, &f); err != nil {
			WriteJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		added, err := s.AddFault(f)
		if err != nil {
			WriteJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		WriteJSON(w, 201, added)
	})
	m.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var id int64
		if v := r.URL.Query().Get("id"); v != "" {
			var err error
			if id, err = strconv.ParseInt(v, 10, 64); err != nil {
				WriteJSON(w, 400, map[string]string{"error": "query parameter id must be a fault ID (an integer)"})
				return
			}
		}
		s.ClearFaults(id)
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_sim/clock", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 200, clockView{Now: s.Now(), Offset: time.Duration(s.offset.Load()).String()})
	})
	m.HandleFunc("POST /_sim/clock", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Advance Duration `json:"advance"`
		}
		if err := DecodeJSON(r, &req); err != nil {
			WriteJSON(w, 400, map[string]string{"error": err.Error() + ` (send {"advance":"744h"})`})
			return
		}
		now, err := s.Advance(req.Advance.D())
		if err != nil {
			WriteJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		WriteJSON(w, 200, clockView{Now: now, Offset: time.Duration(s.offset.Load()).String()})
	})
	m.HandleFunc("DELETE /_sim/clock", func(w http.ResponseWriter, r *http.Request) {
		now := s.RewindClock()
		WriteJSON(w, 200, clockView{Now: now, Offset: "0s"})
	})
	m.HandleFunc("GET /_sim/timings", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		t := s.timings
		s.mu.Unlock()
		WriteJSON(w, 200, t)
	})
	m.HandleFunc("POST /_sim/timings", func(w http.ResponseWriter, r *http.Request) {
		var t Timings
		if err := DecodeJSON(r, &t); err != nil {
			WriteJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		s.SetTimings(t)
		WriteJSON(w, 200, t)
	})
}

// clockView is the simulator's clock as GET and POST /_sim/clock show it.
type clockView struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"` // how far ahead of the machine's clock, e.g. "744h0m0s"
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// DecodeJSON reads a bounded JSON body, rejecting unknown fields so typos in fault rules are loud.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 8<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
