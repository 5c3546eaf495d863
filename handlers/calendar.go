package handlers

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
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
const maxCachedMonths = 24

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
	Weeks    template.HTML // the rows of cells, see monthBody
	Agenda   template.HTML // the lines of monthAgenda, see monthBody
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

// showCalendar renders the month view from two shared parts: the month's
// body (the same for every viewer, rendered again only when the data
// changes) and the page around it (the same for every viewer of one kind:
// language, role, the admin's pending count), with the viewer's name put in
// where the page shows it. Nothing kept grows with the number of viewers, and
// a view costs the copying of the parts.
func (a *app) showCalendar(w http.ResponseWriter, r *http.Request) error {
	today := a.store.Today()
	month, ok := parseMonth(r.URL.Query().Get("month"), today)
	if !ok {
		return refuse(http.StatusBadRequest, "err.bad_month")
	}
	u := currentUser(r)
	key := calendarKey{month: month, today: today, lang: chooseLanguage(r, u)}
	body, err := a.monthBody(r, key)
	if err != nil {
		return err
	}
	// A flash message is shown once, to one viewer: that page is rendered
	// whole and not kept.
	if cookieFlash(r) != "" || a.sessions.Exists(r.Context(), sessFlash) {
		return a.render(w, r, http.StatusOK, "calendar", a.calendarPage(month, body))
	}
	fk := frameKey{month: month, lang: key.lang, house: a.store.Settings().HouseName, admin: u.IsAdmin(), canBook: u.CanBook()}
	if fk.admin {
		fk.pending = a.pendingCount(r)
	}
	f, _, ok := a.frames.get(fk)
	if !ok {
		if f, err = a.calendarFrame(r, fk); err != nil {
			return err
		}
		if f == nil { // the house's name holds a slot's mark
			return a.render(w, r, http.StatusOK, "calendar", a.calendarPage(month, body))
		}
		a.frames.put(0, fk, f)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	f.fill(buf, escapeHTML(u.Name), body)
	writeHTML(w, http.StatusOK, key.lang, buf.Bytes())
	bufPool.Put(buf)
	return nil
}

func (a *app) calendarPage(month store.Date, body []byte) *calendarPage {
	// The language switch comes back to this month, whichever URL led here.
	return &calendarPage{base: base{Here: "/calendar?month=" + month.String()[:7]},
		Month: month, Prev: month.AddMonths(-1), Next: month.AddMonths(1), Body: template.HTML(body)}
}

// frameKey names the calendar page around the month's body: everything it
// shows but the viewer's name (a slot) and a flash message (never kept). It
// holds all the page shows, so a kept frame never goes stale.
type frameKey struct {
	month   store.Date
	lang    string
	house   string
	admin   bool
	canBook bool
	pending int // bookings waiting, for an admin's menu
}

// Frames are small (the page without its body, ~5 KB): a few months in both
// languages, for members and admins.
const maxCachedFrames = 64

// The marks a frame is rendered with where the per-viewer parts go. The
// body's cannot come from data (a "<" in data is escaped); the name's is
// made of characters that html/template leaves as they are, so it comes out
// where the name would.
const (
	bodyMark = "<\x00body\x00>"
	nameMark = "\ue000name\ue001"
)

// frame is a page cut at its slots: parts[0] slot[0] parts[1] ... parts[n].
type frame struct {
	parts [][]byte
	slots []byte // 'b' for the body, 'n' for the viewer's name
	size  int    // of the parts together
}

func (f *frame) fill(buf *bytes.Buffer, name string, body []byte) {
	buf.Grow(f.size + len(body) + len(f.slots)*len(name))
	for i, p := range f.parts {
		buf.Write(p)
		if i < len(f.slots) {
			if f.slots[i] == 'b' {
				buf.Write(body)
			} else {
				buf.WriteString(name)
			}
		}
	}
}

// cutFrame cuts a rendered page at the marks; nil if the body's mark is not
// there exactly once.
func cutFrame(page []byte) *frame {
	f := &frame{}
	for {
		b, n := bytes.Index(page, []byte(bodyMark)), bytes.Index(page, []byte(nameMark))
		if b < 0 && n < 0 {
			break
		}
		at, mark, slot := b, bodyMark, byte('b')
		if b < 0 || (n >= 0 && n < b) {
			at, mark, slot = n, nameMark, 'n'
		}
		f.parts = append(f.parts, bytes.Clone(page[:at]))
		f.slots = append(f.slots, slot)
		f.size += at
		page = page[at+len(mark):]
	}
	f.parts = append(f.parts, bytes.Clone(page))
	f.size += len(page)
	if bytes.Count(f.slots, []byte{'b'}) != 1 {
		return nil
	}
	return f
}

// calendarFrame renders the page of fk with marks for the body and the
// viewer's name; nil if the house's name holds a mark (an admin's odd
// choice: such a page is rendered whole).
func (a *app) calendarFrame(r *http.Request, fk frameKey) (*frame, error) {
	if strings.Contains(fk.house, nameMark) {
		return nil, nil
	}
	cp := a.calendarPage(fk.month, []byte(bodyMark))
	cp.Path = "/calendar" // the frame shows no other
	a.fillBase(r, &cp.base)
	// What the page shows is its key's, nothing of the viewer's but the
	// name's place.
	viewer := *cp.User
	viewer.Name = nameMark
	cp.User, cp.Lang, cp.T, cp.HouseName, cp.PendingCount, cp.Flash = &viewer, fk.lang, tr{fk.lang}, fk.house, fk.pending, ""
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := a.templates[fk.lang]["calendar"].Execute(buf, cp); err != nil {
		return nil, fmt.Errorf("render calendar frame: %w", err)
	}
	return cutFrame(buf.Bytes()), nil
}

// escapeHTML escapes s as html/template does in text and quoted attributes
// (where the name stands), so the page reads byte for byte as if rendered
// whole. All it replaces is ASCII, so it goes by bytes and leaves the rest,
// even invalid UTF-8, as html/template does.
func escapeHTML(s string) string {
	if !strings.ContainsAny(s, "\x00\"&'+<>") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString("\ufffd")
		case '"':
			b.WriteString("&#34;")
		case '&':
			b.WriteString("&amp;")
		case '\'':
			b.WriteString("&#39;")
		case '+':
			b.WriteString("&#43;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// skeletonKey names the month's body without its weeks and agenda: the
// month's title, weekdays and legend.
type skeletonKey struct {
	month store.Date
	lang  string
	empty bool
}

const maxCachedSkeletons = 96

// The marks the skeleton is rendered with: trusted HTML, so they come out
// as they are, and no data can make them (it would be escaped).
const (
	agendaMark = "<\x00agenda\x00>"
	weeksMark  = "<\x00weeks\x00>"
)

// monthBody is the rendered body of a month, from the cache while the data
// has not changed. After a change it is brought up to date from the stays
// the change touched (or kept as it is when it touched none of the month's),
// and read whole only when something else changed. Put together from parts
// rendered once each (day heads, entries, agenda lines, the skeleton), it
// costs little more than reading its stays.
func (a *app) monthBody(r *http.Request, key calendarKey) ([]byte, error) {
	version := a.store.Generation()
	old := a.months.get(key)
	if old != nil && old.version == version {
		return old.body, nil
	}
	// Everyone who looks at a month right after it changed needs the same
	// new body: one of them renders it, the others wait for that instead
	// of each rendering it too (on one core, a busy month's render times
	// the number of viewers made the slowest view wait seconds). The
	// render does not stop when the viewer who started it goes away.
	ctx := context.WithoutCancel(r.Context())
	body, err, _ := a.monthFlight.Do(fmt.Sprint(key), func() (any, error) {
		return a.renderMonthBody(ctx, key)
	})
	if err != nil {
		return nil, err
	}
	return body.([]byte), nil
}

// renderMonthBody brings the month's body up to date: from the stays that
// changed when the store knows them, else from all the month's stays.
func (a *app) renderMonthBody(ctx context.Context, key calendarKey) ([]byte, error) {
	version := a.store.Generation()
	old := a.months.get(key)
	if old != nil && old.version == version {
		return old.body, nil
	}
	// Weeks start on Monday, as calendars do in Germany.
	first := key.month
	start := first.AddDays(-((int(first.Weekday()) + 6) % 7))
	next := first.AddMonths(1)
	end := next
	if wd := int(next.Weekday()); wd != 1 {
		end = next.AddDays((8 - wd) % 7)
	}
	var bs []store.Stay
	read := false
	if old != nil {
		if ids, ok := a.store.BookingsChanged(old.version, version); ok && len(ids) <= maxPatchedStays {
			changed, err := a.store.Stays(ctx, ids)
			if err != nil {
				return nil, err
			}
			var touched bool
			if bs, touched = patchStays(old.stays, ids, changed, start, end); !touched {
				a.months.put(key, &monthEntry{version: version, stays: old.stays, body: old.body, parts: old.parts})
				return old.body, nil
			}
			read = true
		}
	}
	if !read {
		var err error
		if bs, err = a.store.StaysOverlapping(ctx, start, end); err != nil {
			return nil, err
		}
	}
	var prev map[int64]*stayParts
	if old != nil {
		prev = old.parts
	}
	body, parts, err := a.renderMonth(key, bs, prev, first, start, next, end)
	if err != nil {
		return nil, err
	}
	a.months.put(key, &monthEntry{version: version, stays: bs, body: body, parts: parts})
	return body, nil
}

// stayParts is what a stay shows in a month: its entries in the grid (on
// its first day, on the others) and its line in the agenda, once rendered.
type stayParts struct {
	stay           store.Stay
	arrives, stays template.HTML
	agenda         template.HTML
}

// sameStay tells whether two stays read the same in the month: then their
// parts are the same too.
func sameStay(a, b *store.Stay) bool {
	return a.ID == b.ID && a.UserName == b.UserName && a.Arrival == b.Arrival && a.Departure == b.Departure &&
		a.Pending == b.Pending && a.Persons == b.Persons && a.Accommodations == b.Accommodations && slices.Equal(a.Items, b.Items)
}

// Beyond this many changes since a month was rendered, it is read whole.
const maxPatchedStays = 16

// patchStays is stays (the stays with a night in [start, end), in the order
// of store.CompareStays) after the bookings ids changed to changed (those
// of them that hold beds now). touched is false when the month's stays are
// the same as before: none of them was changed, none came in. stays is
// shared by the cache and is not changed.
func patchStays(stays []store.Stay, ids []int64, changed []store.Stay, start, end store.Date) (out []store.Stay, touched bool) {
	out = make([]store.Stay, 0, len(stays)+len(changed))
	for _, st := range stays {
		if slices.Contains(ids, st.ID) {
			touched = true
			continue
		}
		out = append(out, st)
	}
	for _, st := range changed {
		if st.Arrival < end && st.Departure > start {
			touched = true
			out = append(out, st)
		}
	}
	if !touched {
		return stays, false
	}
	slices.SortFunc(out, func(x, y store.Stay) int { return store.CompareStays(&x, &y) })
	return out, true
}

// renderMonth puts the body of a month together from its stays.
// prev is what the month's last rendering left (or nil); renderMonth
// returns the same for the next.
func (a *app) renderMonth(key calendarKey, bs []store.Stay, prev map[int64]*stayParts, first, start, next, end store.Date) ([]byte, map[int64]*stayParts, error) {
	tmpl := a.templates[key.lang]["calendar"]
	var tmp bytes.Buffer
	// A stay shows the same in each of its days but the first (it arrives):
	// two entries per stay, looked up once each, and one line of the
	// agenda. Those of a stay that reads as in the month's last rendering
	// are taken from there, without looking them up.
	entries := make([]stayParts, len(bs))
	parts := make(map[int64]*stayParts, len(bs))
	for i := range bs {
		e := &entries[i]
		if p, ok := prev[bs[i].ID]; ok && sameStay(&p.stay, &bs[i]) {
			*e = *p
		}
		e.stay = bs[i]
		parts[bs[i].ID] = e
	}
	entry := func(i int, arrives bool) (template.HTML, error) {
		e := &entries[i]
		if arrives && e.arrives != "" {
			return e.arrives, nil
		}
		if !arrives && e.stays != "" {
			return e.stays, nil
		}
		b := &bs[i]
		ek := entryKey{calEntry: calEntry{ID: b.ID, Name: b.UserName, Accommodations: b.Accommodations,
			Persons: b.Persons, Pending: b.Pending, Arrives: arrives}, lang: key.lang}
		html, _, ok := a.entries.get(ek)
		if !ok {
			tmp.Reset()
			if err := tmpl.ExecuteTemplate(&tmp, "calendar_entry", ek.calEntry); err != nil {
				return "", err
			}
			html = template.HTML(tmp.String())
			a.entries.put(0, ek, html)
		}
		if arrives {
			e.arrives = html
		} else {
			e.stays = html
		}
		return html, nil
	}

	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	// The weeks first, then the agenda, each into buf; the skeleton takes
	// them from there.
	empty := true
	for d := start; d < end; d++ {
		if (d-start)%7 == 0 {
			buf.WriteString("<tr>")
		}
		inMonth := d >= first && d < next
		hk := dayHeadKey{Date: d, InMonth: inMonth, IsToday: d == key.today, Bookable: d >= key.today, lang: key.lang}
		head, _, ok := a.dayHeads.get(hk)
		if !ok {
			tmp.Reset()
			if err := tmpl.ExecuteTemplate(&tmp, "calendar_day", hk); err != nil {
				return nil, nil, err
			}
			head = template.HTML(tmp.String())
			a.dayHeads.put(0, hk, head)
		}
		buf.WriteString("\n    ")
		buf.WriteString(string(head))
		buf.WriteString("\n      ")
		for i := range bs {
			if b := &bs[i]; b.Arrival <= d && d < b.Departure {
				html, err := entry(i, b.Arrival == d)
				if err != nil {
					return nil, nil, err
				}
				buf.WriteString(string(html))
				if inMonth {
					empty = false
				}
			}
		}
		buf.WriteString("\n    </td>")
		if (d-start)%7 == 6 {
			buf.WriteString("\n  </tr>")
		}
	}
	weeks := buf.Len()
	for _, it := range monthAgenda(bs, first, next, key.today) {
		var p *stayParts
		if it.Stay != nil {
			if p = parts[it.Stay.ID]; p.agenda != "" {
				buf.WriteString(string(p.agenda))
				continue
			}
		}
		line, err := a.agendaLine(tmpl, &tmp, it, key.lang)
		if err != nil {
			return nil, nil, err
		}
		if p != nil {
			p.agenda = line
		}
		buf.WriteString(string(line))
	}
	rows := buf.Bytes()
	sk, err := a.skeleton(skeletonKey{month: first, lang: key.lang, empty: empty})
	if err != nil {
		return nil, nil, err
	}
	// The body is kept as it is: one allocation of its size.
	body := make([]byte, 0, len(sk[0])+len(sk[1])+len(sk[2])+len(rows))
	body = append(body, sk[0]...)
	body = append(body, rows[weeks:]...)
	body = append(body, sk[1]...)
	body = append(body, rows[:weeks]...)
	body = append(body, sk[2]...)
	return body, parts, nil
}

// skeleton is the month's body cut where the agenda and the weeks go, from
// the cache: it shows nothing but its key.
func (a *app) skeleton(k skeletonKey) ([3][]byte, error) {
	if sk, _, ok := a.skeletons.get(k); ok {
		return sk, nil
	}
	cb := calendarBody{Month: k.month, T: tr{k.lang}, Empty: k.empty,
		Agenda: template.HTML(agendaMark), Weeks: template.HTML(weeksMark)}
	start := k.month.AddDays(-((int(k.month.Weekday()) + 6) % 7))
	for d := start; d < start+7; d++ {
		cb.Weekdays = append(cb.Weekdays, d.Weekday())
	}
	var buf bytes.Buffer
	if err := a.templates[k.lang]["calendar"].ExecuteTemplate(&buf, "calendar_body", cb); err != nil {
		return [3][]byte{}, err
	}
	head, rest, ok1 := bytes.Cut(buf.Bytes(), []byte(agendaMark))
	mid, tail, ok2 := bytes.Cut(rest, []byte(weeksMark))
	if !ok1 || !ok2 {
		return [3][]byte{}, fmt.Errorf("calendar_body: the agenda or the weeks are missing")
	}
	sk := [3][]byte{head, mid, tail}
	a.skeletons.put(0, k, sk)
	return sk, nil
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
