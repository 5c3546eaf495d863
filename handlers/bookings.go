package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"booking/store"
)

// bookingFormPage is the new and the edit form.
type bookingFormPage struct {
	base
	Booking *store.Booking // nil when new
	Form    bookingForm
	Errors  fieldErrors
	// Choices are the active accommodations with what is free for the
	// chosen dates (Known false when the dates are not usable yet).
	Choices     []choice
	Known       bool
	From, To    store.Date // the chosen nights, when Known
	MaxNights   int
	LastArrival store.Date // the booking horizon
	Action      string
	// Checked: the page answers "show free beds" (without JavaScript), so
	// it says that nothing is booked yet.
	Checked bool
}

// Nights is the number of nights chosen, when Known.
func (p *bookingFormPage) Nights() int { return int(p.To - p.From) }

// Summary lists the form's errors in the order of its fields, each with
// the id of the field it leads to, for the summary at the top.
func (p *bookingFormPage) Summary() []fieldError {
	var out []fieldError
	seen := map[string]bool{}
	add := func(key, field string) {
		if text, ok := p.Errors[key]; ok && !seen[key] {
			seen[key] = true
			out = append(out, fieldError{Field: field, Text: text})
		}
	}
	add("arrival", "arrival")
	add("departure", "departure")
	add("items", "where")
	for _, c := range p.Choices {
		id := strconv.FormatInt(c.Acc.ID, 10)
		add("items."+id, "persons-"+id)
	}
	add("notes", "notes")
	// Anything else (an accommodation that is gone) belongs to the choices.
	keys := make([]string, 0, len(p.Errors))
	for k := range p.Errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		add(k, "where")
	}
	return out
}

type choice struct {
	Acc     *store.Accommodation
	Free    int
	Persons string
	Error   string
}

// FieldError is for the field_error partial under the persons field.
func (c choice) FieldError() fieldError {
	return fieldError{Field: "persons-" + strconv.FormatInt(c.Acc.ID, 10), Text: c.Error}
}

// fillChoices fills the choices for the form's dates; bad dates leave
// Known false and the form still shows every accommodation.
func (a *app) fillChoices(r *http.Request, p *bookingFormPage, exclude int64) error {
	accs, err := a.store.Accommodations(r.Context(), false)
	if err != nil {
		return err
	}
	// An edit keeps showing an accommodation it has even if inactive now.
	if p.Booking != nil {
		for _, it := range p.Booking.Items {
			if !slices.ContainsFunc(accs, func(x *store.Accommodation) bool { return x.ID == it.AccommodationID }) {
				if acc, err := a.store.Accommodation(r.Context(), it.AccommodationID); err == nil {
					accs = append(accs, acc)
				}
			}
		}
	}
	arr, err1 := store.ParseDate(p.Form.Arrival)
	dep, err2 := store.ParseDate(p.Form.Departure)
	var av *store.Availability
	if err1 == nil && err2 == nil && dep > arr && int(dep-arr) <= a.store.Settings().MaxNights {
		av, err = a.store.Availability(r.Context(), arr, dep, exclude)
		if err != nil {
			return err
		}
		p.Known, p.From, p.To = true, arr, dep
	}
	p.Choices = p.Choices[:0]
	for _, acc := range accs {
		c := choice{Acc: acc, Persons: p.Form.Persons[acc.ID], Error: p.Errors["items."+strconv.FormatInt(acc.ID, 10)]}
		if av != nil {
			c.Free, _ = av.MinFree(acc.ID)
		}
		p.Choices = append(p.Choices, c)
	}
	p.MaxNights = a.store.Settings().MaxNights
	p.LastArrival = a.store.LastArrival()
	return nil
}

// renderBookingForm shows the new or edit form with the free beds for its
// dates; exclude is the booking being edited (its own beds count as free).
func (a *app) renderBookingForm(w http.ResponseWriter, r *http.Request, status int, p *bookingFormPage, exclude int64) error {
	if err := a.fillChoices(r, p, exclude); err != nil {
		return err
	}
	return a.render(w, r, status, "booking_form", p)
}

func (a *app) showNewBooking(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := &bookingFormPage{Action: "/bookings", Form: formFromQuery(q), Checked: q.Has("check")}
	if p.Form.Arrival == "" {
		p.Form.Arrival = a.store.Today().String()
	}
	return a.renderBookingForm(w, r, http.StatusOK, p, 0)
}

// formFromQuery reads the booking form from a URL: links from the calendar
// and the form's own "show free beds" button.
func formFromQuery(q url.Values) bookingForm {
	f := bookingForm{Arrival: q.Get("arrival"), Departure: q.Get("departure"), Notes: q.Get("notes"), Persons: map[int64]string{}}
	for key, vals := range q {
		if id, ok := cutID(key, "persons."); ok && len(vals) > 0 {
			f.Persons[id] = vals[0]
		}
	}
	return f
}

func cutID(key, prefix string) (int64, bool) {
	s, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// bookingErrorReason is the metrics label for a failed creation.
func bookingErrorReason(err error) string {
	switch {
	case errors.Is(err, store.ErrNoCapacity):
		return "no_capacity"
	case errors.Is(err, store.ErrInvalid):
		return "validation"
	case errors.Is(err, store.ErrForbidden):
		return "forbidden"
	case errors.Is(err, store.ErrStorageFull):
		return "storage_full"
	default:
		return "internal"
	}
}

func (a *app) createBooking(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	u := currentUser(r)
	t := tr{chooseLanguage(r, u)}
	a.metrics.creationAttempts.Inc()
	form, in, fe := parseBookingForm(t, r)
	if len(fe) == 0 {
		b, err := a.store.CreateBooking(r.Context(), u, in)
		if err == nil {
			a.seeOther(w, r, bookingURL(b.ID), "flash.booking_created")
			return nil
		}
		a.metrics.creationErrors.WithLabelValues(bookingErrorReason(err)).Inc()
		if fe, err = problemsOf(t, err, fe); err != nil {
			return err
		}
	} else {
		a.metrics.creationErrors.WithLabelValues("validation").Inc()
	}
	// The refused form is still the new-booking page (menu, language switch),
	// though it answers the POST to /bookings.
	p := &bookingFormPage{base: base{Path: "/bookings/new"}, Action: "/bookings", Form: form, Errors: fe}
	return a.renderBookingForm(w, r, http.StatusUnprocessableEntity, p, 0)
}

// bookingPage shows one booking with its history and what the viewer may do.
type bookingPage struct {
	base
	Booking   *store.Booking
	Private   bool // the viewer is the owner or an administrator
	Owner     bool // the viewer's own booking
	Events    []store.Event
	CanEdit   bool
	CanCancel bool
	CanDecide bool
	Reason    string
	Errors    fieldErrors
}

func (a *app) loadBookingPage(r *http.Request) (*bookingPage, error) {
	id, err := idParam(r)
	if err != nil {
		return nil, err
	}
	u := currentUser(r)
	b, err := a.store.Booking(r.Context(), u, id)
	if err != nil {
		return nil, err
	}
	p := &bookingPage{Booking: b, Private: b.MayChange(u), Owner: b.UserID == u.ID}
	if !p.Private {
		// Other members see the stay as in the calendar, nothing more.
		b.Notes, b.Reason = "", ""
		return p, nil
	}
	if p.Events, err = a.store.Events(r.Context(), id); err != nil {
		return nil, err
	}
	over := b.Departure <= a.store.Today()
	p.CanEdit = b.HoldsBeds() && (u.IsAdmin() || !over)
	p.CanCancel = p.CanEdit
	p.CanDecide = u.IsAdmin() && b.Status == store.StatusPending
	return p, nil
}

// loadOwnBooking is loadBookingPage for the pages that change a booking.
func (a *app) loadOwnBooking(r *http.Request) (*bookingPage, error) {
	p, err := a.loadBookingPage(r)
	if err == nil && !p.Private {
		return nil, refuse(http.StatusForbidden, "err.forbidden")
	}
	return p, err
}

func (a *app) showBooking(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadBookingPage(r)
	if err != nil {
		return err
	}
	return a.render(w, r, http.StatusOK, "booking", p)
}

func (a *app) showEditBooking(w http.ResponseWriter, r *http.Request) error {
	bp, err := a.loadOwnBooking(r)
	if err != nil {
		return err
	}
	if !bp.CanEdit {
		return refuse(http.StatusConflict, "err.conflict")
	}
	b := bp.Booking
	p := &bookingFormPage{Booking: b, Action: bookingURL(b.ID) + "/edit",
		Form: bookingForm{Arrival: b.Arrival.String(), Departure: b.Departure.String(), Notes: b.Notes, Persons: map[int64]string{}}}
	for _, it := range b.Items {
		p.Form.Persons[it.AccommodationID] = strconv.Itoa(it.Persons)
	}
	// "Show free beds" without JavaScript comes back here with the form so
	// far in the query: show that, not the stored booking.
	if q := r.URL.Query(); q.Has("arrival") {
		p.Form = formFromQuery(q)
		p.Checked = q.Has("check")
	}
	return a.renderBookingForm(w, r, http.StatusOK, p, b.ID)
}

func (a *app) updateBooking(w http.ResponseWriter, r *http.Request) error {
	bp, err := a.loadOwnBooking(r)
	if err != nil {
		return err
	}
	if err := parseForm(r); err != nil {
		return err
	}
	u := currentUser(r)
	t := tr{chooseLanguage(r, u)}
	form, in, fe := parseBookingForm(t, r)
	b := bp.Booking
	if len(fe) == 0 {
		_, err := a.store.UpdateBooking(r.Context(), u, b.ID, in)
		if err == nil {
			a.seeOther(w, r, bookingURL(b.ID), "flash.booking_updated")
			return nil
		}
		if fe, err = problemsOf(t, err, fe); err != nil {
			return err
		}
	}
	p := &bookingFormPage{Booking: b, Action: bookingURL(b.ID) + "/edit", Form: form, Errors: fe}
	return a.renderBookingForm(w, r, http.StatusUnprocessableEntity, p, b.ID)
}

// bookingURL is the page of one booking.
func bookingURL(id int64) string { return "/bookings/" + strconv.FormatInt(id, 10) }

func (a *app) showCancelBooking(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadOwnBooking(r)
	if err != nil {
		return err
	}
	if !p.CanCancel {
		return refuse(http.StatusConflict, "err.conflict")
	}
	return a.render(w, r, http.StatusOK, "cancel", p)
}

func (a *app) cancelBooking(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	if err := a.store.CancelBooking(r.Context(), currentUser(r), id); err != nil {
		return err
	}
	a.seeOther(w, r, bookingURL(id), "flash.booking_cancelled")
	return nil
}

func (a *app) acceptBooking(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	if err := a.store.AcceptBooking(r.Context(), currentUser(r), id); err != nil {
		return err
	}
	a.redirectBack(w, r, bookingURL(id), "flash.booking_accepted")
	return nil
}

func (a *app) rejectBooking(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadOwnBooking(r)
	if err != nil {
		return err
	}
	if err := parseForm(r); err != nil {
		return err
	}
	u := currentUser(r)
	reason := r.PostForm.Get("reason")
	err = a.store.RejectBooking(r.Context(), u, p.Booking.ID, reason)
	if err == nil {
		a.redirectBack(w, r, bookingURL(p.Booking.ID), "flash.booking_rejected")
		return nil
	}
	if p.Errors, err = problemsOf(tr{chooseLanguage(r, u)}, err, nil); err != nil {
		return err
	}
	p.Reason = reason
	return a.render(w, r, http.StatusUnprocessableEntity, "booking", p)
}

// redirectBack is seeOther to the page named in the form's "back" field
// (the dashboard posts from its list), else to fallback.
func (a *app) redirectBack(w http.ResponseWriter, r *http.Request, fallback, flash string) {
	a.seeOther(w, r, localRedirect(r.PostFormValue("back"), fallback), flash)
}

// listPage is a list of bookings with its filter.
type listPage struct {
	base
	Bookings []*store.Booking
	When     string
	Status   string
	Statuses []string
	Query    url.Values
	Admin    bool
}

func (a *app) bookingList(w http.ResponseWriter, r *http.Request, userID int64, page string) error {
	q := r.URL.Query()
	f := store.BookingFilter{UserID: userID, When: q.Get("when"), Status: q.Get("status")}
	if f.When == "" {
		f.When = store.WhenUpcoming
	}
	if f.When != store.WhenUpcoming && f.When != store.WhenPast && f.When != store.WhenAll ||
		f.Status != "" && !slices.Contains(store.Statuses, f.Status) {
		return refuse(http.StatusBadRequest, "err.bad_filter")
	}
	bs, err := a.store.Bookings(r.Context(), f)
	if err != nil {
		return err
	}
	return a.render(w, r, http.StatusOK, page, &listPage{Bookings: bs, When: f.When, Status: f.Status, Statuses: store.Statuses, Admin: userID == 0})
}

func (a *app) showMyBookings(w http.ResponseWriter, r *http.Request) error {
	return a.bookingList(w, r, currentUser(r).ID, "bookings")
}

func (a *app) showAllBookings(w http.ResponseWriter, r *http.Request) error {
	return a.bookingList(w, r, 0, "bookings")
}
