package handlers

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"

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
// gives away nothing but that id (or says that the server's storage is full
// or its database damaged). Handlers return their errors instead; this is
// for the middleware around them.
func (a *app) serverError(w http.ResponseWriter, r *http.Request, err error) {
	a.fail(w, r, err)
}

func (a *app) logServerError(r *http.Request, err error) {
	ri := info(r)
	a.log.Error("server error", "request_id", ri.id, "method", r.Method, "route", ri.route, "err", err)
}

// showError shows the friendly page of a status with a message key.
func (a *app) showError(w http.ResponseWriter, r *http.Request, status int, key string) {
	// An error while rendering the error page must not recurse.
	p := &errorPage{Status: status, Message: key}
	b := p.page()
	u := currentUser(r)
	b.User, b.Lang = u, chooseLanguage(r, u)
	b.T = tr{b.Lang}
	// The language switch of an error page leads to the start page: the page
	// repeats nothing of the request, so a missing booking and one that is
	// not yours answer the same (security_test.go).
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

// handlerFunc is a page handler that returns what went wrong instead of
// writing an error page itself: errorHandler writes it, in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// httpError is a refusal a handler decides itself (a malformed form, a
// closed registration...): a status with the catalogue key of its message.
type httpError struct {
	status int
	key    string
}

func (e *httpError) Error() string { return strconv.Itoa(e.status) + " " + e.key }

// refuse is the error a handler returns to answer with a status and a
// message of its own.
func refuse(status int, key string) error { return &httpError{status: status, key: key} }

// errorHandler turns a handlerFunc into an http.Handler: a returned error
// becomes the friendly page of its status. Handlers return an error only
// before they have written anything.
func (a *app) errorHandler(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// errorStatus is the one place where errors become status codes: a
// handler's own refusal, a store sentinel, and anything else is a 500.
func errorStatus(err error) (status int, key string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status, he.key
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "err.not_found"
	case errors.Is(err, store.ErrForbidden):
		return http.StatusForbidden, "err.forbidden"
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "err.conflict"
	case errors.Is(err, store.ErrTokenInvalid):
		return http.StatusGone, "err.link_invalid"
	case errors.Is(err, store.ErrInvalid):
		return http.StatusUnprocessableEntity, "err.invalid"
	case errors.Is(err, store.ErrRegistrationsFull):
		return http.StatusServiceUnavailable, "err.registration_full"
	case errors.Is(err, store.ErrStorageFull):
		// The write was rolled back: nothing was saved, and the member
		// should know that it is not their fault, nor worth retrying.
		return http.StatusInsufficientStorage, "err.storage_full"
	case errors.Is(err, store.ErrDamaged):
		return http.StatusServiceUnavailable, "err.damaged"
	default:
		return http.StatusInternalServerError, "err.server"
	}
}

// fail shows the page for err; a server error is logged with the request
// id, and its page gives away nothing but that id.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, key := errorStatus(err)
	if status >= http.StatusInternalServerError {
		a.logServerError(r, err)
	}
	a.showError(w, r, status, key)
}
