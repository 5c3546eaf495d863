package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"
	"github.com/gorilla/mux"

	"booking/store"
)

// Calendar feeds (RFC 5545): each member has a secret address for "my
// stays" and one for the whole house, to subscribe to in a calendar app.
// Every booking is an all-day event from arrival to departure (exclusive),
// with a UID that stays across edits, a SEQUENCE that grows with each
// change, TENTATIVE while pending and CONFIRMED once accepted; rejected and
// cancelled ones stay CANCELLED for a while so that phones remove them.

const (
	feedMine  = "mine"
	feedHouse = "house"
	// feedHistory is how far back a feed reaches: last year's stays are
	// still worth seeing in a calendar.
	feedHistory = 365
	// feedCancelledFor is how long a rejected or cancelled booking stays
	// in the feeds as CANCELLED: calendar apps poll every few hours, some
	// only daily.
	feedCancelledFor = 30 * 24 * time.Hour
	// maxCachedFeeds: a house feed per language and a "mine" feed per
	// member for a family of a few dozen; more starts the cache over, which
	// costs a render, not memory (a big house feed is some 100 KB).
	maxCachedFeeds = 32
)

// feedKey names one rendered feed. The house feed is the same for every
// member who reads it in a language.
type feedKey struct {
	kind   string
	userID int64 // 0 for the house feed
	lang   string
	today  store.Date
	origin string // where links in the feed point
}

// feedBody is a rendered feed with its validators.
type feedBody struct {
	body     []byte
	etag     string
	modified time.Time
}

// feedStamps remembers when each feed last changed its bytes, so that
// Last-Modified stays put while only the data of other feeds changed.
type feedStamps struct {
	mu sync.Mutex
	m  map[feedKey]feedBody
}

// stamp returns the Last-Modified of body for key: the earlier one if the
// bytes are the same as last time, now otherwise.
func (fs *feedStamps) stamp(key feedKey, etag string, now time.Time) time.Time {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if old, ok := fs.m[key]; ok && old.etag == etag {
		return old.modified
	}
	if len(fs.m) >= 4*maxCachedFeeds {
		clear(fs.m)
	}
	now = now.UTC().Truncate(time.Second)
	fs.m[key] = feedBody{etag: etag, modified: now}
	return now
}

// serveFeed answers a calendar app. It needs no login (apps cannot log in);
// the secret in the address is the key, and an unknown or revoked one is a
// plain 404, like an address that never existed. ETag and Last-Modified
// let an app's poll cost a 304.
func (a *app) serveFeed(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	kind := vars["feed"]
	owner, err := a.store.FeedUser(r.Context(), vars["token"])
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			a.logServerError(r, err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	lang := owner.Language
	if lang != langEN {
		lang = langDE
	}
	key := feedKey{kind: kind, lang: lang, today: a.store.Today(), origin: a.origin(r)}
	if kind == feedMine {
		key.userID = owner.ID
	}
	fb, version, ok := a.feeds.get(key)
	if !ok {
		body, err := a.renderFeed(r, key)
		if err != nil {
			a.logServerError(r, err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		fb = &feedBody{body: body, etag: etag, modified: a.feedStamps.stamp(key, etag, time.Now())}
		a.feeds.put(version, key, fb)
	}
	h := w.Header()
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	// The address is a secret: no shared cache may keep it; the app may,
	// and asks again with If-None-Match.
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", fb.etag)
	h.Set("Content-Disposition", `inline; filename="`+kind+`.ics"`)
	h.Set("X-Robots-Tag", "noindex")
	http.ServeContent(w, r, "", fb.modified, bytes.NewReader(fb.body))
}

// origin is where links in mails and feeds point: -base-url, else the
// address the request came to.
func (a *app) origin(r *http.Request) string {
	if a.baseURL != "" {
		return a.baseURL
	}
	return strings.TrimSuffix(a.linkURL(r, "/"), "/")
}

// renderFeed writes the iCalendar of key with github.com/emersion/go-ical,
// folded to 75 octets.
func (a *app) renderFeed(r *http.Request, key feedKey) ([]byte, error) {
	t := tr{key.lang}
	settings := a.store.Settings()
	now := a.store.Now()
	bs, err := a.store.FeedBookings(r.Context(), key.userID, key.today.AddDays(-feedHistory), now.Add(-feedCancelledFor))
	if err != nil {
		return nil, err
	}
	private := key.kind == feedHouse && settings.HouseFeedOccupiedOnly
	cal := ical.NewCalendar()
	name := t.T("feed.name_mine", settings.HouseName)
	if key.kind == feedHouse {
		name = t.T("feed.name_house", settings.HouseName)
	}
	cal.Props.SetText(ical.PropProductID, "-//booking//"+settings.HouseName+"//"+strings.ToUpper(key.lang))
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropCalendarScale, "GREGORIAN")
	cal.Props.SetText(ical.PropMethod, "PUBLISH")
	cal.Props.SetText(ical.PropName, name)
	setExtension(cal.Props, "X-WR-CALNAME", name)
	setExtension(cal.Props, "X-WR-TIMEZONE", settings.TimeZone)
	// How often apps should look (RFC 7986 wants the VALUE parameter, which
	// go-ical leaves out for a property's default type); X-PUBLISHED-TTL is
	// what Apple and Microsoft read.
	refresh := ical.NewProp(ical.PropRefreshInterval)
	refresh.Params.Set(ical.ParamValue, string(ical.ValueDuration))
	refresh.Value = "PT1H"
	cal.Props.Set(refresh)
	setExtension(cal.Props, "X-PUBLISHED-TTL", "PT1H")
	// An iCalendar object needs at least one component, and a new member's
	// feed has no stay yet: the house's time zone is always there.
	cal.Children = append(cal.Children, vtimezone(settings.Location(), key.today))
	for _, b := range bs {
		cal.Children = append(cal.Children, feedEvent(t, b, key, settings, private).Component)
	}
	var buf bytes.Buffer
	fw := &foldingWriter{w: &buf}
	if err := ical.NewEncoder(fw).Encode(cal); err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	return buf.Bytes(), nil
}

// feedEvent is one booking as an all-day event.
func feedEvent(t tr, fb store.FeedBooking, key feedKey, settings *store.Settings, private bool) *ical.Event {
	b := fb.Booking
	ev := ical.NewEvent()
	// The id and the moment it was made: the same across edits, never the
	// same for two bookings even if a restore hands an id out again.
	ev.Props.SetText(ical.PropUID, fmt.Sprintf("booking-%d-%s@booking", b.ID, b.CreatedAt.UTC().Format("20060102T150405Z")))
	ev.Props.SetDateTime(ical.PropDateTimeStamp, b.UpdatedAt.UTC())
	ev.Props.SetDateTime(ical.PropLastModified, b.UpdatedAt.UTC())
	ev.Props.SetDateTime(ical.PropCreated, b.CreatedAt.UTC())
	ev.Props.SetDate(ical.PropDateTimeStart, b.Arrival.Time())
	ev.Props.SetDate(ical.PropDateTimeEnd, b.Departure.Time())
	seq := ical.NewProp(ical.PropSequence)
	seq.SetValueType(ical.ValueInt)
	seq.Value = strconv.Itoa(fb.Sequence)
	ev.Props.Set(seq)
	switch b.Status {
	case store.StatusPending:
		ev.SetStatus(ical.EventTentative)
	case store.StatusAccepted:
		ev.SetStatus(ical.EventConfirmed)
	default:
		ev.SetStatus(ical.EventCancelled)
	}
	ev.Props.SetText(ical.PropLocation, settings.HouseName)
	status := ""
	if b.Status != store.StatusAccepted {
		status = " (" + t.Status(b.Status) + ")"
	}
	if private {
		ev.Props.SetText(ical.PropSummary, t.T("feed.occupied")+status)
		ev.Props.SetText(ical.PropTransparency, "TRANSPARENT")
		return ev
	}
	names := make([]string, len(b.Items))
	lines := make([]string, 0, len(b.Items)+4)
	for i, it := range b.Items {
		names[i] = it.AccommodationName
		lines = append(lines, it.AccommodationName+": "+t.Plural(it.Persons, "persons"))
	}
	lines = append(lines, t.T("booking.status")+": "+t.Status(b.Status))
	if key.kind == feedMine {
		ev.Props.SetText(ical.PropSummary, settings.HouseName+": "+strings.Join(names, ", ")+status)
		if b.Reason != "" && b.Status == store.StatusRejected {
			lines = append(lines, t.T("booking.reason")+": "+b.Reason)
		}
		if b.Notes != "" {
			lines = append(lines, t.T("booking.notes")+": "+b.Notes)
		}
	} else {
		ev.Props.SetText(ical.PropSummary, b.UserName+": "+strings.Join(names, ", ")+status)
		ev.Props.SetText(ical.PropTransparency, "TRANSPARENT")
	}
	link := key.origin + bookingURL(b.ID)
	lines = append(lines, link)
	// Notes come from a textarea: CR LF is a line break, not two.
	desc := strings.ReplaceAll(strings.ReplaceAll(strings.Join(lines, "\n"), "\r\n", "\n"), "\r", "\n")
	ev.Props.SetText(ical.PropDescription, desc)
	u := ical.NewProp(ical.PropURL)
	u.SetValueType(ical.ValueURI)
	u.Value = link
	ev.Props.Set(u)
	return ev
}

// vtimezone describes the house's time zone (RFC 5545 3.6.5) from last
// year to the end of next year, one observance per offset change, as Go's
// zone data has them.
func vtimezone(loc *time.Location, today store.Date) *ical.Component {
	tz := ical.NewComponent(ical.CompTimezone)
	tz.Props.SetText(ical.PropTimezoneID, loc.String())
	year := today.Time().Year()
	t := time.Date(year-1, time.January, 1, 12, 0, 0, 0, loc)
	end := time.Date(year+2, time.January, 1, 0, 0, 0, 0, loc)
	for {
		name, offset := t.Zone()
		start, next := t.ZoneBounds()
		from := offset
		onset := "19700101T000000"
		if !start.IsZero() {
			_, from = start.Add(-time.Second).Zone()
			onset = start.In(time.FixedZone("", from)).Format("20060102T150405")
		}
		kind := ical.CompTimezoneStandard
		if t.IsDST() {
			kind = ical.CompTimezoneDaylight
		}
		obs := ical.NewComponent(kind)
		dt := ical.NewProp(ical.PropDateTimeStart)
		dt.Value = onset
		obs.Props.Set(dt)
		for prop, off := range map[string]int{ical.PropTimezoneOffsetFrom: from, ical.PropTimezoneOffsetTo: offset} {
			p := ical.NewProp(prop)
			p.Value = utcOffset(off)
			obs.Props.Set(p)
		}
		obs.Props.SetText(ical.PropTimezoneName, name)
		tz.Children = append(tz.Children, obs)
		if next.IsZero() || !next.Before(end) {
			return tz
		}
		t = next
	}
}

// setExtension sets an X- property as text, escaped by go-ical, without the
// VALUE=TEXT parameter go-ical adds to properties it does not know.
func setExtension(props ical.Props, name, text string) {
	p := ical.NewProp(name)
	p.SetText(text)
	p.Params.Del(ical.ParamValue)
	props.Set(p)
}

// utcOffset is +0100 / -0530.
func utcOffset(seconds int) string {
	sign := "+"
	if seconds < 0 {
		sign, seconds = "-", -seconds
	}
	return fmt.Sprintf("%s%02d%02d", sign, seconds/3600, seconds/60%60)
}

// foldingWriter folds the content lines go-ical writes to at most 75
// octets (RFC 5545 3.1), never inside a UTF-8 character: a continuation
// line starts with a space. go-ical writes lines as they are.
type foldingWriter struct {
	w    io.Writer
	line []byte
}

const foldAt = 75

func (f *foldingWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.Index(p, []byte("\r\n"))
		if i < 0 {
			f.line = append(f.line, p...)
			return n, nil
		}
		f.line = append(f.line, p[:i]...)
		p = p[i+2:]
		if err := f.flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (f *foldingWriter) flush() error {
	line, limit := f.line, foldAt
	var out []byte
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		out = append(out, line[:cut]...)
		out = append(out, "\r\n "...)
		line = line[cut:]
		limit = foldAt - 1 // the space counts
	}
	out = append(out, line...)
	out = append(out, "\r\n"...)
	f.line = f.line[:0]
	_, err := f.w.Write(out)
	return err
}
