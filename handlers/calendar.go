package handlers

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"booking/store"
)

// calendarKey names one rendered month body. The body depends on nothing
// else: not on the viewer (every member sees the same house), only on the
// data (the generation), the month, the language and which day is today.
type calendarKey struct {
	month store.Date
	today store.Date
	lang  string
}

// Cached month bodies are few: a family looks at this month and the next.
const maxCachedMonths = 48

type calDay struct {
	Date     store.Date
	InMonth  bool
	IsToday  bool
	Bookable bool // today or later: the day links to a new booking arriving then
	Bookings []calEntry
}

type calEntry struct {
	ID             int64
	Name           string
	Accommodations string
	Persons        int
	Pending        bool
	Arrives        bool
}

type calendarBody struct {
	Month   store.Date
	Weeks   [][]calDay
	Empty   bool
	T       tr
	IsToday bool
}

type calendarPage struct {
	base
	Month      store.Date
	Prev, Next store.Date
	Body       template.HTML
}

// parseMonth reads ?month=2026-08; empty means this month.
func parseMonth(s string, today store.Date) (store.Date, bool) {
	if s == "" {
		return today.FirstOfMonth(), true
	}
	d, err := store.ParseDate(s + "-01")
	if err != nil || len(s) != 7 {
		return 0, false
	}
	return d, true
}

// showCalendar renders the month view. The month's body is rendered once per
// change of the data and reused; a page view then costs the layout only.
func (a *app) showCalendar(w http.ResponseWriter, r *http.Request) error {
	today := a.store.Today()
	month, ok := parseMonth(r.URL.Query().Get("month"), today)
	if !ok {
		return refuse(http.StatusBadRequest, "err.bad_month")
	}
	u := currentUser(r)
	key := calendarKey{month: month, today: today, lang: chooseLanguage(r, u)}
	// The whole page depends only on the key and on who looks (name, role,
	// the admin's pending count: all data, so the generation covers them),
	// unless a flash message is waiting to be shown once.
	pageKey := calendarPageKey{calendarKey: key, userID: u.ID}
	flash := a.sessions.Exists(r.Context(), sessFlash) || cookieFlash(r) != ""
	page, version, ok := a.pages.get(pageKey)
	if ok && !flash {
		writeHTML(w, http.StatusOK, key.lang, page)
		return nil
	}
	body, err := a.monthBody(r, key)
	if err != nil {
		return err
	}
	cp := &calendarPage{Month: month, Prev: month.AddMonths(-1), Next: month.AddMonths(1), Body: template.HTML(body)}
	page, lang, err := a.renderBytes(r, "calendar", cp)
	if err != nil {
		return err
	}
	if cp.flashCookie {
		http.SetCookie(w, a.flashCookie("", -1)) // shown once
	}
	writeHTML(w, http.StatusOK, lang, page)
	if !flash {
		a.pages.put(version, pageKey, bytes.Clone(page))
	}
	bufPool.Put(bytes.NewBuffer(page[:0]))
	return nil
}

// calendarPageKey names one rendered calendar page for one viewer.
type calendarPageKey struct {
	calendarKey
	userID int64
}

// Enough pages for every member of a large family looking at a few months.
const maxCachedPages = 256

// monthBody is the rendered body of a month, from the cache while the data
// has not changed.
func (a *app) monthBody(r *http.Request, key calendarKey) ([]byte, error) {
	body, version, ok := a.months.get(key)
	if ok {
		return body, nil
	}
	// Weeks start on Monday, as calendars do in Germany.
	first := key.month
	start := first.AddDays(-((int(first.Weekday()) + 6) % 7))
	next := first.AddMonths(1)
	end := next
	if wd := int(next.Weekday()); wd != 1 {
		end = next.AddDays((8 - wd) % 7)
	}
	bs, err := a.store.BookingsOverlapping(r.Context(), start, end)
	if err != nil {
		return nil, err
	}
	t := tr{key.lang}
	cb := calendarBody{Month: first, T: t, Empty: true}
	var week []calDay
	for d := start; d < end; d++ {
		day := calDay{Date: d, InMonth: d >= first && d < next, IsToday: d == key.today, Bookable: d >= key.today}
		for _, b := range bs {
			if b.Arrival <= d && d < b.Departure {
				names := make([]string, len(b.Items))
				for i, it := range b.Items {
					names[i] = it.AccommodationName
				}
				day.Bookings = append(day.Bookings, calEntry{ID: b.ID, Name: b.UserName, Accommodations: strings.Join(names, ", "),
					Persons: b.Persons(), Pending: b.Status == store.StatusPending, Arrives: b.Arrival == d})
				if day.InMonth {
					cb.Empty = false
				}
			}
		}
		week = append(week, day)
		if len(week) == 7 {
			cb.Weeks = append(cb.Weeks, week)
			week = nil
		}
	}
	var buf bytes.Buffer
	if err := a.templates[key.lang]["calendar"].ExecuteTemplate(&buf, "calendar_body", cb); err != nil {
		return nil, err
	}
	body = buf.Bytes()
	a.months.put(version, key, body)
	return body, nil
}

// availabilityPage is the per-accommodation view of free beds per night.
type availabilityPage struct {
	base
	Month      store.Date
	Prev, Next store.Date
	Av         *store.Availability
	Rows       []availRow
}

type availRow struct {
	Acc  *store.Accommodation
	Free []int
}

func (a *app) showAvailability(w http.ResponseWriter, r *http.Request) error {
	today := a.store.Today()
	month, ok := parseMonth(r.URL.Query().Get("month"), today)
	if !ok {
		return refuse(http.StatusBadRequest, "err.bad_month")
	}
	av, err := a.store.Availability(r.Context(), month, month.AddMonths(1), 0)
	if err != nil {
		return err
	}
	p := &availabilityPage{Month: month, Prev: month.AddMonths(-1), Next: month.AddMonths(1), Av: av}
	for i, acc := range av.Accommodations {
		p.Rows = append(p.Rows, availRow{Acc: acc, Free: av.Free[i]})
	}
	return a.render(w, r, http.StatusOK, "availability", p)
}

// availabilityJSON serves the free beds for a date range to the booking
// form's script: {"nights":2,"free":{"1":2,"2":4}} (the fewest free beds of
// each accommodation over the nights). Its errors are JSON too, for the
// script, so it never returns one to the page adapter.
func (a *app) availabilityJSON(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	from, err1 := store.ParseDate(q.Get("arrival"))
	to, err2 := store.ParseDate(q.Get("departure"))
	if err1 != nil || err2 != nil || to <= from || to-from > store.MaxRangeDays {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "arrival and departure must be dates (YYYY-MM-DD), departure after arrival"})
		return nil
	}
	var exclude int64
	if id, ok := cutID("booking."+q.Get("booking"), "booking."); ok {
		// Only the owner or an admin may leave a booking out.
		if b, err := a.store.Booking(r.Context(), currentUser(r), id); err == nil && b.MayChange(currentUser(r)) {
			exclude = id
		}
	}
	av, err := a.store.Availability(r.Context(), from, to, exclude)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
		a.log.Error("availability", "request_id", info(r).id, "err", err)
		return nil
	}
	free := map[string]int{}
	for _, acc := range av.Accommodations {
		m, _ := av.MinFree(acc.ID)
		free[strconv.FormatInt(acc.ID, 10)] = m
	}
	writeJSON(w, http.StatusOK, map[string]any{"nights": int(to - from), "free": free})
	return nil
}
