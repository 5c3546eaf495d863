package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"booking/store"
)

// fieldErrors are translated messages by form field name.
type fieldErrors map[string]string

// Has is for templates: {{if .Errors.Has "email"}}.
func (fe fieldErrors) Has(field string) bool { _, ok := fe[field]; return ok }

// fieldError is what the field_error partial shows: the message of a field
// and the field's id, which names the message's id.
type fieldError struct{ Field, Text string }

// For is for templates: {{template "field_error" .Errors.For "email"}}.
func (fe fieldErrors) For(field string) fieldError { return fieldError{Field: field, Text: fe[field]} }

// problemsOf translates a store validation error into messages per field.
// Any other error is returned for the caller to handle.
func problemsOf(t tr, err error, fe fieldErrors) (fieldErrors, error) {
	var ve *store.ValidationError
	if !errors.As(err, &ve) {
		return fe, err
	}
	if fe == nil {
		fe = fieldErrors{}
	}
	for _, p := range ve.Problems {
		if _, dup := fe[p.Field]; !dup {
			fe[p.Field] = t.Problem(p)
		}
	}
	return fe, nil
}

// parseForm reads a posted form; an oversized or malformed body is the
// client's fault, never a 500.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return refuse(http.StatusRequestEntityTooLarge, "err.too_large")
		}
		return refuse(http.StatusBadRequest, "err.bad_request")
	}
	return nil
}

// idParam reads the numeric {id} of the route; the route pattern already
// guarantees digits, but not that they fit an int64.
func idParam(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	if err != nil || id <= 0 {
		return 0, refuse(http.StatusNotFound, "err.not_found")
	}
	return id, nil
}

// idAndForm is idParam and parseForm for a post to one record.
func idAndForm(r *http.Request) (int64, error) {
	id, err := idParam(r)
	if err != nil {
		return 0, err
	}
	return id, parseForm(r)
}

// localRedirect returns target when it is a path on this site, else
// fallback. Every next= and back= goes through it, so a crafted link cannot
// send someone elsewhere.
func localRedirect(target, fallback string) string {
	if isLocalPath(target) {
		return target
	}
	return fallback
}

// isLocalPath accepts only what a browser cannot read as another host: one
// leading slash, no scheme, no host, and no backslash or control character
// anywhere. Browsers drop tabs and newlines from a URL and read a backslash
// as a slash, so "/\t/evil.example" and "/\\evil.example" both become
// "//evil.example", another host; Go's url.Parse sees neither.
func isLocalPath(target string) bool {
	if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
		return false
	}
	for _, r := range target {
		if r < 0x20 || r == 0x7f || r == '\\' || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	u, err := url.Parse(target)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == "" &&
		strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(u.Path, "//")
}

// bookingForm is the booking form as the user typed it, kept verbatim so a
// refused form comes back exactly as it was sent.
type bookingForm struct {
	Arrival   string
	Departure string
	Persons   map[int64]string // accommodation id → persons as typed
	Notes     string
}

// parseBookingForm turns the form into store input. Fields that do not
// parse are reported per field; the store checks everything else.
func parseBookingForm(t tr, r *http.Request) (bookingForm, store.BookingInput, fieldErrors) {
	f := bookingForm{
		Arrival:   strings.TrimSpace(r.PostForm.Get("arrival")),
		Departure: strings.TrimSpace(r.PostForm.Get("departure")),
		Notes:     r.PostForm.Get("notes"),
		Persons:   map[int64]string{},
	}
	var in store.BookingInput
	fe := fieldErrors{}
	var err error
	if f.Arrival == "" {
		fe["arrival"] = t.T("err.required")
	} else if in.Arrival, err = store.ParseDate(f.Arrival); err != nil {
		fe["arrival"] = t.T("err.bad_date")
	}
	if f.Departure == "" {
		fe["departure"] = t.T("err.required")
	} else if in.Departure, err = store.ParseDate(f.Departure); err != nil {
		fe["departure"] = t.T("err.bad_date")
	}
	for key, vals := range r.PostForm {
		idStr, ok := strings.CutPrefix(key, "persons.")
		if !ok || len(vals) == 0 {
			continue
		}
		id, err := strconv.ParseInt(idStr, 10, 64)
		if err != nil || id <= 0 {
			continue // not one of ours: ignore rather than fail the form
		}
		v := strings.TrimSpace(vals[0])
		f.Persons[id] = v
		if v == "" || v == "0" {
			continue // not chosen
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fe["items."+idStr] = t.T("err.persons_range", store.MinPersons, store.MaxPersons)
			continue
		}
		in.Items = append(in.Items, store.Item{AccommodationID: id, Persons: n})
	}
	in.Notes = f.Notes
	return f, in, fe
}
