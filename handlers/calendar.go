package handlers

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

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

// dayHeadKey names a rendered day cell head: it reads the same for every
// version of the data.
type dayHeadKey struct {
	Date     store.Date
	InMonth  bool
	IsToday  bool
	Bookable bool // today or later: the day links to a new booking arriving then
	lang     string
}

// agendaKey names a rendered line of the agenda: a stay (ID set) or a gap,
// by all it shows.
type agendaKey struct {
	ID                 int64
	Name               string
	Arrival, Departure store.Date
	Pending            bool
	Items              string // names and persons
	From, To, BookFrom store.Date
	lang               string
}

// agendaLine renders one line of the agenda, or takes it from the cache.
func (a *app) agendaLine(tmpl *template.Template, buf *bytes.Buffer, it agendaItem, lang string) (template.HTML, error) {
	k := agendaKey{From: it.From, To: it.To, BookFrom: it.BookFrom, lang: lang}
	name, data := "calendar_agenda_gap", any(it)
	if st := it.Stay; st != nil {
		var items strings.Builder
		for _, i := range st.Items {
			items.WriteString(i.AccommodationName)
			items.WriteByte(0)
			items.WriteString(strconv.Itoa(i.Persons))
			items.WriteByte(0)
		}
		k = agendaKey{ID: st.ID, Name: st.Name, Arrival: st.Arrival, Departure: st.Departure, Pending: st.Pending, Items: items.String(), lang: lang}
		name, data = "calendar_agenda_stay", st
	}
	if line, _, ok := a.agenda.get(k); ok {
		return line, nil
	}
	buf.Reset()
	if err := tmpl.ExecuteTemplate(buf, name, data); err != nil {
		return "", err
	}
	line := template.HTML(buf.String())
	a.agenda.put(0, k, line)
	return line, nil
}

// entryKey names a rendered booking in a day: what it shows is all of its
// key, so a rendered entry never goes stale and survives every write that
// does not change it.
type entryKey struct {
	calEntry
	lang string
}

// Enough rendered day heads and entries for a few months in both languages;
// beyond that the caches start over.
const (
	maxCachedDayHeads = 512
	maxCachedEntries  = 4096
	maxCachedAgenda   = 2048
)

type calEntry struct {
	ID             int64
	Name           string
	Accommodations string
	Persons        int
	Pending        bool
	Arrives        bool
}

// agendaItem is one line of the month as a list (the phone's view): a stay,
// or a stretch of nights nobody has booked.
type agendaItem struct {
	Stay *agendaStay
	// A gap: the nights From..To-1 are free; BookFrom, when set, is the
	// first of them that can still be booked.
	From, To, BookFrom store.Date
}

// Nights is the length of a gap.
func (it agendaItem) Nights() int { return int(it.To - it.From) }

type agendaStay struct {
	ID                 int64
	Name               string
	Arrival, Departure store.Date
	Nights             int
	Items              []store.Item
	Status             string
	Pending            bool
}

type calendarBody struct {
	Month    store.Date
	Weekdays []time.Weekday
	Weeks    []template.HTML // each a row of cells, see monthBody
	Agenda   template.HTML   // the lines of monthAgenda, see monthBody
	Empty    bool
	T        tr
	IsToday  bool
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
	flash := cookieFlash(r) != "" || a.sessions.Exists(r.Context(), sessFlash)
	page, version, ok := a.pages.get(pageKey)
	if ok && !flash {
		writeHTML(w, http.StatusOK, key.lang, page)
		return nil
	}
	body, err := a.monthBody(r, key)
	if err != nil {
		return err
	}
	// The language switch comes back to this month, whichever URL led here.
	cp := &calendarPage{base: base{Here: "/calendar?month=" + month.String()[:7]},
		Month: month, Prev: month.AddMonths(-1), Next: month.AddMonths(1), Body: template.HTML(body)}
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
	bs, err := a.store.StaysOverlapping(r.Context(), start, end)
	if err != nil {
		return nil, err
	}
	t := tr{key.lang}
	tmpl := a.templates[key.lang]["calendar"]
	cb := calendarBody{Month: first, T: t, Empty: true}
	for d := start; d < start+7; d++ {
		cb.Weekdays = append(cb.Weekdays, d.Weekday())
	}
	var buf, row bytes.Buffer
	row.Grow(4 << 10)
	rowBytes := 0
	for d := start; d < end; d++ {
		hk := dayHeadKey{Date: d, InMonth: d >= first && d < next, IsToday: d == key.today, Bookable: d >= key.today, lang: key.lang}
		head, _, ok := a.dayHeads.get(hk)
		if !ok {
			buf.Reset()
			if err := tmpl.ExecuteTemplate(&buf, "calendar_day", hk); err != nil {
				return nil, err
			}
			head = template.HTML(buf.String())
			a.dayHeads.put(0, hk, head)
		}
		row.WriteString("\n    ")
		row.WriteString(string(head))
		row.WriteString("\n      ")
		for _, b := range bs {
			if b.Arrival <= d && d < b.Departure {
				ek := entryKey{calEntry: calEntry{ID: b.ID, Name: b.UserName, Accommodations: b.Accommodations,
					Persons: b.Persons, Pending: b.Pending, Arrives: b.Arrival == d}, lang: key.lang}
				entry, _, ok := a.entries.get(ek)
				if !ok {
					buf.Reset()
					if err := tmpl.ExecuteTemplate(&buf, "calendar_entry", ek.calEntry); err != nil {
						return nil, err
					}
					entry = template.HTML(buf.String())
					a.entries.put(0, ek, entry)
				}
				row.WriteString(string(entry))
				if hk.InMonth {
					cb.Empty = false
				}
			}
		}
		row.WriteString("\n    </td>")
		if (d-start)%7 == 6 {
			// Both parts are trusted HTML from our own templates.
			cb.Weeks = append(cb.Weeks, template.HTML(row.String()))
			rowBytes += row.Len()
			row.Reset()
		}
	}
	for _, it := range monthAgenda(bs, first, next, key.today) {
		line, err := a.agendaLine(tmpl, &buf, it, key.lang)
		if err != nil {
			return nil, err
		}
		row.WriteString(string(line))
		rowBytes += len(line)
	}
	// Trusted HTML from our own templates.
	cb.Agenda = template.HTML(row.String())
	// The body is kept as it is: one allocation of about its size.
	buf = bytes.Buffer{}
	buf.Grow(rowBytes + 2<<10)
	if err := tmpl.ExecuteTemplate(&buf, "calendar_body", cb); err != nil {
		return nil, err
	}
	body = buf.Bytes()
	a.months.put(version, key, body)
	return body, nil
}

// monthAgenda lists the stays that touch the month [first, next), in the
// order of arrival (bs come sorted so), with the stretches of the month's
// nights that nobody has booked between them.
func monthAgenda(bs []store.Stay, first, next, today store.Date) []agendaItem {
	var stays []*store.Stay
	taken := make([]bool, next-first)
	for i := range bs {
		b := &bs[i]
		if b.Departure <= first || b.Arrival >= next {
			continue
		}
		stays = append(stays, b)
		for d := max(b.Arrival, first); d < min(b.Departure, next); d++ {
			taken[d-first] = true
		}
	}
	var gaps []agendaItem
	for d := first; d < next; d++ {
		if taken[d-first] {
			continue
		}
		if n := len(gaps); n > 0 && gaps[n-1].To == d {
			gaps[n-1].To++
		} else {
			gaps = append(gaps, agendaItem{From: d, To: d + 1})
		}
	}
	out := make([]agendaItem, 0, len(stays)+len(gaps))
	for len(stays) > 0 || len(gaps) > 0 {
		if len(gaps) > 0 && (len(stays) == 0 || gaps[0].From < stays[0].Arrival) {
			g := gaps[0]
			if g.To > today {
				g.BookFrom = max(g.From, today)
			}
			out = append(out, g)
			gaps = gaps[1:]
			continue
		}
		b := stays[0]
		out = append(out, agendaItem{Stay: &agendaStay{ID: b.ID, Name: b.UserName, Arrival: b.Arrival, Departure: b.Departure,
			Nights: int(b.Departure - b.Arrival), Items: b.Items, Status: b.Status(), Pending: b.Pending}})
		stays = stays[1:]
	}
	return out
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
	// Weeks is the same month as a small calendar (Monday first), for
	// phones; days of other months are blank.
	Weeks [][]availDay
}

type availDay struct {
	Date    store.Date
	InMonth bool
	Free    int
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
	start := month.AddDays(-((int(month.Weekday()) + 6) % 7))
	for i, acc := range av.Accommodations {
		row := availRow{Acc: acc, Free: av.Free[i]}
		var week []availDay
		for d := start; d < p.Next || len(week) > 0; d++ {
			day := availDay{Date: d, InMonth: d >= month && d < p.Next}
			if day.InMonth {
				day.Free = max(0, av.Free[i][d-month])
			}
			week = append(week, day)
			if len(week) == 7 {
				row.Weeks = append(row.Weeks, week)
				week = nil
			}
		}
		p.Rows = append(p.Rows, row)
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
