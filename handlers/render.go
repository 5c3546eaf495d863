package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"booking/store"
)

// pageTemplates holds every page parsed once at start-up, per language:
// layout + partials + page. A page that fails to parse stops the start.
type pageTemplates map[string]map[string]*template.Template // lang → page → template

// pageBlocks are the blocks of the layout that each page fills in.
var pageBlocks = regexp.MustCompile(`(\{\{-?\s*(?:block|define|template)\s+)"(main|title)"`)

// definedNames finds the templates a file defines, to refuse two pages
// defining the same helper (they share one set per language).
var definedNames = regexp.MustCompile(`\{\{-?\s*define\s+"([^"]+)"`)

func parseTemplates(fsys fs.FS, staticURL func(string) string) (pageTemplates, error) {
	pages, err := fs.Glob(fsys, "page_*.html")
	if err != nil {
		return nil, err
	}
	partials, err := fs.Glob(fsys, "partial_*.html")
	if err != nil {
		return nil, err
	}
	layout, err := fs.ReadFile(fsys, "layout.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	sources := map[string]string{}
	definedBy := map[string]string{}
	for _, f := range append([]string{"layout.html"}, partials...) {
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		for _, m := range definedNames.FindAllStringSubmatch(string(src), -1) {
			definedBy[m[1]] = f
		}
	}
	for _, p := range pages {
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p, "page_"), ".html")
		for _, m := range definedNames.FindAllStringSubmatch(string(src), -1) {
			if m[1] == "main" || m[1] == "title" {
				continue
			}
			if other, ok := definedBy[m[1]]; ok {
				return nil, fmt.Errorf("template %s: %q is also defined in %s", p, m[1], other)
			}
			definedBy[m[1]] = p
		}
		sources[name] = string(src)
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
		// All pages of a language live in one set, so the partials are
		// parsed once instead of once per page (a clone per page copied
		// them: 4.7 MiB of parse trees in all, now about 1 MiB). Each page
		// gets its own copy of the layout whose blocks, like the page's,
		// carry the page's name ("calendar/main").
		set, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, append([]string{"layout.html"}, partials...)...)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		out[lang] = map[string]*template.Template{}
		for name, src := range sources {
			blocks := "${1}\"" + name + "/${2}\""
			if _, err := set.New(name).Parse(pageBlocks.ReplaceAllString(string(layout), blocks)); err != nil {
				return nil, fmt.Errorf("template layout.html for %s: %w", name, err)
			}
			if _, err := set.New("page_" + name + ".html").Parse(pageBlocks.ReplaceAllString(src, blocks)); err != nil {
				return nil, fmt.Errorf("template page_%s.html: %w", name, err)
			}
			out[lang][name] = set.Lookup(name)
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
