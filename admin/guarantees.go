package admin

import (
	"encoding/json"
	"net/http"

	"github.com/ackflow/ackflow/guarantee"
)

// WithGuarantees serves r at GET /api/v1/guarantees: what the running
// configuration promises its clients, path by path, and its warnings (the
// report of `ackflow validate --format json`). Without it the endpoint
// answers 404.
func WithGuarantees(r *guarantee.Report) Option {
	return func(s *Server) { s.guarantees = r }
}

func (s *Server) handleGuarantees(w http.ResponseWriter, _ *http.Request) {
	if s.guarantees == nil {
		http.Error(w, "no guarantee report: this server was started without one (admin.WithGuarantees)", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.guarantees)
}
