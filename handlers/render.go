package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"booking/store"
)

// pageTemplates holds every page parsed once at start-up, per language:
// layout + partials + page. A page that fails to parse stops the start.
type pageTemplates map[string]map[string]*template.Template // lang → page → template

func parseTemplates(fsys fs.FS, staticURL func(string) string) (pageTemplates, error) {
	pages, err := fs.Glob(fsys, "page_*.html")
	if err != nil {
		return nil, err
	}
	partials, err := fs.Glob(fsys, "partial_*.html")
	if err != nil {
		return nil, err
	}
	out := pageTemplates{}
	for _, lang := range supported {
		t := tr{lang}
		funcs := template.FuncMap{
			"t":         t.T,
			"date":      t.Date,
			"dateShort": t.DateShort,
			"month":     t.Month,
			"weekday":   t.Weekday,
			"plural":    t.Plural,
			"status":    t.Status,
			"kind":      t.Kind,
			"role":      t.Role,
			"state":     t.State,
			"time":      t.Time,
			"duration":  t.Duration,
			"static":    staticURL,
			"hasPrefix": strings.HasPrefix,
			"itemsText": itemsText,
		}
		out[lang] = map[string]*template.Template{}
		// Layout and partials are parsed once per language; each page is a
		// clone of that with its own blocks added (cheaper at start-up than
		// parsing the layout again for every page).
		shared, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, append([]string{"layout.html"}, partials...)...)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		for _, p := range pages {
			tmpl, err := shared.Clone()
			if err != nil {
				return nil, err
			}
			if tmpl, err = tmpl.ParseFS(fsys, p); err != nil {
				return nil, fmt.Errorf("template %s: %w", p, err)
			}
			name := strings.TrimSuffix(strings.TrimPrefix(p, "page_"), ".html")
			out[lang][name] = tmpl
		}
	}
	return out, nil
}

// base is what every page shows: who is logged in, the language, a flash
// message. Each page's data embeds it.
type base struct {
	Lang         string
	User         *store.User
	HouseName    string
	Flash        string
	Title        string
	Path         string
	Here         string // where the language switch returns to: this page
	Today        store.Date
	PendingCount int            // bookings waiting for an admin's decision (admins only)
	Loc          *time.Location // the house's time zone
	T            tr
	flashCookie  bool // the flash came in a cookie, which the answer deletes
}

func (b *base) page() *base { return b }

// pageData is any page struct that embeds base.
type pageData interface{ page() *base }

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 page instead of half a page with a 200 status.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, page string, data pageData) error {
	body, lang, err := a.renderBytes(r, page, data)
	if err != nil {
		return err
	}
	if data.page().flashCookie {
		http.SetCookie(w, a.flashCookie("", -1)) // shown once
	}
	writeHTML(w, status, lang, body)
	bufPool.Put(bytes.NewBuffer(body[:0]))
	return nil
}

// renderBytes executes a page. The returned slice comes from a pool: the
// caller either gives it back (render) or keeps a copy.
func (a *app) renderBytes(r *http.Request, page string, data pageData) ([]byte, string, error) {
	b := data.page()
	a.fillBase(r, b)
	tmpl, ok := a.templates[b.Lang][page]
	if !ok {
		return nil, "", fmt.Errorf("no template for page %q", page)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := tmpl.Execute(buf, data); err != nil {
		bufPool.Put(buf)
		return nil, "", fmt.Errorf("render %s: %w", page, err)
	}
	return buf.Bytes(), b.Lang, nil
}

// seeOther answers a successful post with a redirect to a page that shows
// the flash message (a catalogue key; none when empty) once. The flash rides
// in a short-lived cookie, for everyone: in the session it would cost two
// more fsync'd commits per change (put, then pop), and no session is ever
// stored for an anonymous visitor.
func (a *app) seeOther(w http.ResponseWriter, r *http.Request, to, flash string) {
	if flash != "" {
		http.SetCookie(w, a.flashCookie(flash, 60))
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// flashCookieName carries the flash: a catalogue key,
// nothing else (see cookieFlash).
const flashCookieName = "flash"

func (a *app) flashCookie(key string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: flashCookieName, Value: key, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: a.sessions.Cookie.Secure}
}

// cookieFlash is the flash key from the cookie, if it is one of ours: the
// cookie can only pick among our own messages, never bring its own text.
func cookieFlash(r *http.Request) string {
	c, err := r.Cookie(flashCookieName)
	if err != nil || !strings.HasPrefix(c.Value, "flash.") {
		return ""
	}
	if _, ok := catalog[c.Value]; !ok {
		return ""
	}
	return c.Value
}

func writeHTML(w http.ResponseWriter, status int, lang string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", lang)
	w.WriteHeader(status)
	w.Write(body)
}

func (a *app) fillBase(r *http.Request, b *base) {
	u := currentUser(r)
	b.User = u
	b.Lang = chooseLanguage(r, u)
	b.T = tr{b.Lang}
	settings := a.store.Settings()
	b.HouseName = settings.HouseName
	// A page may name itself: a refused form answers the POST at another path.
	if b.Path == "" {
		b.Path = r.URL.Path
	}
	// Switching the language shows the same page again, with its query (the
	// month, the filter, the dates so far). A page that answers a POST is
	// shown again by its path: the form's content cannot come along.
	if b.Here == "" {
		b.Here = b.Path
		if r.Method == http.MethodGet {
			b.Here = r.URL.RequestURI()
		}
	}
	b.Today = a.store.Today()
	b.Loc = settings.Location()
	// A flash saved in the session before it moved to a cookie (removing a
	// key that is not there writes nothing).
	if sess := a.sessionsOf(r); sess != nil && b.Flash == "" {
		if key := sess.PopString(r.Context(), sessFlash); key != "" {
			b.Flash = b.T.T(key)
		}
	}
	if key := cookieFlash(r); key != "" {
		if b.Flash == "" {
			b.Flash = b.T.T(key)
		}
		b.flashCookie = true
	}
	if u.IsAdmin() {
		b.PendingCount = a.pendingCount(r)
	}
}

// itemsText is "Zimmer 1 (2), Zelt (1)" for the history's before/after.
func itemsText(items []store.Item) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.AccommodationName + " (" + strconv.Itoa(it.Persons) + ")"
	}
	return strings.Join(parts, ", ")
}
