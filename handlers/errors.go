package handlers

import (
	"bytes"
	"errors"
	"net/http"

	"booking/store"
)

// errorPage is the data of the friendly error page.
type errorPage struct {
	base
	Status  int
	Message string // a catalogue key
}

// simplePage is for pages that show nothing but the base.
type simplePage struct{ base }

// serverError logs the cause with the request id and shows a page that
// gives away nothing but that id.
func (a *app) serverError(w http.ResponseWriter, r *http.Request, err error) {
	ri := info(r)
	a.log.Error("server error", "request_id", ri.id, "method", r.Method, "route", ri.route, "err", err)
	a.errorPage(w, r, http.StatusInternalServerError, "err.server")
}

// clientError shows the friendly page for a 4xx with a message key.
func (a *app) clientError(w http.ResponseWriter, r *http.Request, status int, key string) {
	a.errorPage(w, r, status, key)
}

func (a *app) errorPage(w http.ResponseWriter, r *http.Request, status int, key string) {
	// An error while rendering the error page must not recurse.
	p := &errorPage{Status: status, Message: key}
	b := p.page()
	u := currentUser(r)
	b.User, b.Lang = u, chooseLanguage(r, u)
	b.T = tr{b.Lang}
	b.HouseName = a.store.Settings().HouseName
	b.Today = a.store.Today()
	tmpl := a.templates[b.Lang]["error"]
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Cache-Control", "no-store")
	if tmpl == nil || tmpl.Execute(buf, p) != nil {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		w.Write([]byte(http.StatusText(status) + "\n"))
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail maps a store error to its page: the one place where sentinel errors
// become status codes.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.clientError(w, r, http.StatusNotFound, "err.not_found")
	case errors.Is(err, store.ErrForbidden):
		a.clientError(w, r, http.StatusForbidden, "err.forbidden")
	case errors.Is(err, store.ErrConflict):
		a.clientError(w, r, http.StatusConflict, "err.conflict")
	case errors.Is(err, store.ErrTokenInvalid):
		a.clientError(w, r, http.StatusGone, "err.link_invalid")
	case errors.Is(err, store.ErrInvalid):
		a.clientError(w, r, http.StatusUnprocessableEntity, "err.invalid")
	default:
		a.serverError(w, r, err)
	}
}
