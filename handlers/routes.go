package handlers

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routes is the one place where URLs meet handlers.
func (a *app) routes() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/health", a.showHealth).Methods(http.MethodGet, http.MethodHead)
	return r
}
