package handlers

import (
	"fmt"
	"net/http"
	"time"

	"golang.org/x/text/language"

	"booking/store"
)

// Languages the interface speaks, German first: the family is German.
const (
	langDE = "de"
	langEN = "en"
)

var (
	supported = []string{langDE, langEN}
	matcher   = language.NewMatcher([]language.Tag{language.German, language.English})
)

// langCookie remembers the choice of someone who is not logged in.
const langCookie = "lang"

// chooseLanguage picks the user's setting, else the language cookie, else
// the browser's Accept-Language, else German.
func chooseLanguage(r *http.Request, u *store.User) string {
	if u != nil && (u.Language == langDE || u.Language == langEN) {
		return u.Language
	}
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == langDE || c.Value == langEN) {
		return c.Value
	}
	if al := r.Header.Get("Accept-Language"); al != "" {
		tags, _, err := language.ParseAcceptLanguage(al)
		if err == nil && len(tags) > 0 {
			_, i, conf := matcher.Match(tags...)
			if conf != language.No {
				return supported[i]
			}
		}
	}
	return langDE
}

// tr translates for one language. Templates get its methods as functions,
// bound when the templates are parsed, one set per language.
type tr struct{ lang string }

func (t tr) index() int {
	if t.lang == langEN {
		return 1
	}
	return 0
}

// T returns the text for key; arguments fill %[n]v verbs, so a translation
// may put them in another order. A missing key shows itself, which the
// catalogue test catches before anyone else sees it.
func (t tr) T(key string, args ...any) string {
	e, ok := catalog[key]
	if !ok {
		return key
	}
	s := e[t.index()]
	if len(args) == 0 {
		return s
	}
	for i, a := range args {
		if d, ok := a.(store.Date); ok {
			args[i] = t.DateShort(d)
		}
	}
	return fmt.Sprintf(s, args...)
}

// Problem translates a store problem.
func (t tr) Problem(p store.Problem) string {
	key := "err." + p.Key
	// "1 freie Betten" is wrong in both languages: pick the right form.
	if p.Key == store.KeyNoCapacity && len(p.Args) == 3 {
		switch p.Args[1] {
		case 0:
			key += ".none"
		case 1:
			key += ".one"
		}
	}
	args := append([]any(nil), p.Args...)
	// The last day of the horizon is far off: with weekday and year.
	if p.Key == store.KeyBeyondHorizon && len(args) == 2 {
		if d, ok := args[1].(store.Date); ok {
			args[1] = t.Date(d)
		}
	}
	return t.T(key, args...)
}

var (
	weekdaysDE = [7]string{"So", "Mo", "Di", "Mi", "Do", "Fr", "Sa"}
	weekdaysEN = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	monthsDE   = [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
	monthsEN   = [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// DateShort is "14.08." or "Aug 14": for dates within a stay.
func (t tr) DateShort(d store.Date) string {
	tm := d.Time()
	if t.lang == langEN {
		return tm.Format("Jan 2")
	}
	return tm.Format("02.01.")
}

// Date is "Fr, 14.08.2026" or "Fri, Aug 14, 2026".
func (t tr) Date(d store.Date) string {
	tm := d.Time()
	if t.lang == langEN {
		return weekdaysEN[tm.Weekday()] + ", " + tm.Format("Jan 2, 2006")
	}
	return weekdaysDE[tm.Weekday()] + ", " + tm.Format("02.01.2006")
}

// Weekday is the short name of a weekday.
func (t tr) Weekday(wd time.Weekday) string {
	if t.lang == langEN {
		return weekdaysEN[wd]
	}
	return weekdaysDE[wd]
}

// Month is "August 2026".
func (t tr) Month(d store.Date) string {
	tm := d.Time()
	if t.lang == langEN {
		return monthsEN[tm.Month()-1] + " " + tm.Format("2006")
	}
	return monthsDE[tm.Month()-1] + " " + tm.Format("2006")
}

// Time is a moment in the house's zone: "14.08.2026 18:03" / "Aug 14, 2026 6:03 PM".
func (t tr) Time(tm time.Time, loc *time.Location) string {
	tm = tm.In(loc)
	if t.lang == langEN {
		return tm.Format("Jan 2, 2006 3:04 PM")
	}
	return tm.Format("02.01.2006 15:04")
}

// Plural picks the singular or plural key: "nights" → nights.one/nights.other.
func (t tr) Plural(n int, key string) string {
	if n == 1 {
		return t.T(key+".one", n)
	}
	return t.T(key+".other", n)
}

// Duration says a span in its largest whole unit ("3 Minuten", "2 days"),
// the way a person reads "how long ago": a raw Go duration such as
// 2922h35m38s means nothing to the administrator.
func (t tr) Duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return t.Plural(int(d/time.Second), "span.seconds")
	case d < time.Hour:
		return t.Plural(int(d/time.Minute), "span.minutes")
	case d < 48*time.Hour:
		return t.Plural(int(d/time.Hour), "span.hours")
	default:
		return t.Plural(int(d/(24*time.Hour)), "span.days")
	}
}

// Status, Kind, Role, State translate the store's enumerations.
func (t tr) Status(s string) string { return t.T("status." + s) }
func (t tr) Kind(s string) string   { return t.T("kind." + s) }
func (t tr) Role(s string) string   { return t.T("role." + s) }
func (t tr) State(s string) string  { return t.T("state." + s) }
