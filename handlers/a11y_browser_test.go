package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"booking/backup"
	"booking/e2e"
	"booking/store"
)

// The phone and accessibility checks: every page at 390 px (a phone) and
// 1280 px (a desktop), with JavaScript on and off, in German and English,
// must not scroll sideways, must have no interactive element smaller than
// 24 x 24 CSS px, and must pass axe-core's WCAG 2.2 AA rules.

const (
	// e2eMinTarget is WCAG 2.2 AA's target size (2.5.8), in CSS px.
	e2eMinTarget = 24
	// e2eContentTop: on a phone the page's content starts within the first
	// screen's top eighth, not under two menu bars.
	e2eContentTop = 100
	// e2eReflowWidth is WCAG 1.4.10's narrowest width.
	e2eReflowWidth = 320
)

// e2eAxeTags are the axe-core rule tags of WCAG 2.0, 2.1 and 2.2, A and AA.
var e2eAxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

// e2eAxeSource reads axe-core, which `npm ci --prefix handlers/testdata/axe`
// installs (.ci/run does). Without it the test fails on CI and is skipped
// elsewhere.
func e2eAxeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		e2e.ToolMissing(t, "axe-core is not installed ("+err.Error()+"): npm ci --prefix handlers/testdata/axe")
	}
	return string(b)
}

// disableJS makes p's tab behave as a browser with JavaScript switched
// off: the page's scripts do not run. The test's own evaluations (measuring,
// axe) still do, as in the browser's developer tools.
func (p *e2ePerson) disableJS() {
	p.t.Helper()
	p.noJS = true
	p.setJS(false)
}

func (p *e2ePerson) setJS(on bool) {
	p.t.Helper()
	p.step(fmt.Sprintf("switch JavaScript on: %v", on), func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	})
}

// setCookie puts a cookie of the test server into p's browser context.
func (p *e2ePerson) setCookie(name, value string) {
	p.t.Helper()
	p.step("set the cookie "+name, func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: name, Value: value, URL: p.b.origin + "/"})
		return err
	})
}

// e2eLoginCookie logs u in over plain HTTP and returns the session cookie,
// for browser contexts that only look at pages.
func e2eLoginCookie(t *testing.T, origin string, u *store.User, password string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(origin+"/login", url.Values{"email": {u.Email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login as %s: status %d", u.Email, res.StatusCode)
	}
	for _, ck := range jar.Cookies(mustURL(origin)) {
		if ck.Name == "booking_session" {
			return ck.Value
		}
	}
	t.Fatalf("login as %s: no session cookie", u.Email)
	return ""
}

// e2eHouse is the family's house in a busy August: six members with long
// names all stay the night of the 14th, Anna has an accepted and a rejected
// booking, Ben a pending one, Dora waits for approval, Emil is invited.
type e2eHouse struct {
	admin, anna, ben, dora *store.User
	long                   []*store.User
	room, attic, tent      *store.Accommodation
	camper, meadow         *store.Accommodation
	annaAccepted           string // booking ids
	annaRejected           string
	benPending             string
	longPending            string
	inviteToken            string
	resetToken             string
	setupToken             string
	password               string
}

// e2eLongNames are six members whose names do not fit a calendar square.
var e2eLongNames = []string{
	"Maximiliane Sophie von Hohenberg-Lindenau",
	"Konstantin Alexander Müller-Westernhagen",
	"Friederike Charlotte Schwarzenberger",
	"Bartholomäus Wolfgang Eichendorff-Kleist",
	"Annemarie Josefine Oberhollenzer",
	"Christoph-Maria Leutheusser-Schnarrenberger",
}

func e2eFurnish(t *testing.T, ctx context.Context, st *store.Store) *e2eHouse {
	t.Helper()
	h := &e2eHouse{password: "Sommer im Garten 2026"}
	var err error
	// The setup link exists only while there is no administrator yet.
	if h.setupToken, err = st.NewSetupToken(ctx); err != nil || h.setupToken == "" {
		t.Fatalf("NewSetupToken: %q, %v", h.setupToken, err)
	}
	user := func(name, email, role, state string) *store.User {
		t.Helper()
		u, err := st.CreateUser(ctx, store.NewUser{Email: email, Name: name, Role: role, State: state, Password: h.password})
		if err != nil {
			t.Fatalf("user %s: %v", name, err)
		}
		return u
	}
	h.admin = user("Helga", "helga@example.org", store.RoleAdmin, store.StateApproved)
	h.anna = user("Anna", "anna@example.org", store.RoleMember, store.StateApproved)
	h.ben = user("Ben", "ben@example.org", store.RoleMember, store.StateApproved)
	h.dora = user("Dora Wartend", "dora@example.org", store.RoleMember, store.StateRegistered)
	for i, name := range e2eLongNames {
		h.long = append(h.long, user(name, fmt.Sprintf("lang%d@example.org", i), store.RoleMember, store.StateApproved))
	}
	acc := func(name, kind string, beds int, desc string) *store.Accommodation {
		t.Helper()
		a, err := st.CreateAccommodation(ctx, h.admin, store.AccommodationInput{Name: name, Kind: kind, Beds: beds, Description: desc})
		if err != nil {
			t.Fatalf("accommodation %s: %v", name, err)
		}
		return a
	}
	h.room = acc("Zimmer 1", "room", 2, "")
	h.attic = acc("Dachzimmer mit Blick über den Obstgarten", "room", 3, "Steile Treppe, nichts für kleine Kinder.")
	h.tent = acc("Zelt", "tent", 4, "")
	h.camper = acc("Wohnwagen", "camper", 2, "")
	h.meadow = acc("Zeltwiese", "other", 20, "Eigenes Zelt mitbringen.")
	book := func(u *store.User, from, to int, items ...store.Item) string {
		t.Helper()
		b, err := st.CreateBooking(ctx, u, store.BookingInput{Arrival: today.AddDays(from), Departure: today.AddDays(to), Items: items})
		if err != nil {
			t.Fatalf("booking of %s: %v", u.Name, err)
		}
		return strconvID(b.ID)
	}
	item := func(a *store.Accommodation, n int) store.Item { return store.Item{AccommodationID: a.ID, Persons: n} }
	accept := func(id string) {
		t.Helper()
		if err := st.AcceptBooking(ctx, h.admin, mustID(t, id)); err != nil {
			t.Fatal(err)
		}
	}
	// Six stays on the night of 14 August (today + 13).
	stays := [][2]int{{11, 14}, {12, 15}, {13, 16}, {13, 14}, {9, 17}, {13, 20}}
	items := [][]store.Item{
		{item(h.meadow, 3)}, {item(h.room, 2)}, {item(h.attic, 2), item(h.meadow, 1)},
		{item(h.tent, 4)}, {item(h.meadow, 2)}, {item(h.camper, 2), item(h.meadow, 2)},
	}
	for i, u := range h.long {
		id := book(u, stays[i][0], stays[i][1], items[i]...)
		if i%2 == 0 {
			accept(id)
		} else if h.longPending == "" {
			h.longPending = id
		}
	}
	h.annaAccepted = book(h.anna, 19, 22, item(h.room, 2))
	accept(h.annaAccepted)
	h.annaRejected = book(h.anna, 24, 26, item(h.camper, 1))
	if err := st.RejectBooking(ctx, h.admin, mustID(t, h.annaRejected), "Der Wohnwagen ist in der Werkstatt."); err != nil {
		t.Fatal(err)
	}
	h.benPending = book(h.ben, 27, 33, item(h.tent, 2), item(h.meadow, 1))
	if _, _, err := st.Invite(ctx, h.admin, store.NewUser{Name: "Emil", Email: "emil@example.org", Role: store.RoleMember}); err != nil {
		t.Fatal(err)
	}
	if h.inviteToken, _, err = st.Invite(ctx, h.admin, store.NewUser{Name: "Frieda", Email: "frieda@example.org", Role: store.RoleMember}); err != nil {
		t.Fatal(err)
	}
	if h.resetToken, err = st.NewResetLink(ctx, h.admin, h.ben.ID); err != nil {
		t.Fatal(err)
	}
	settings := st.Settings().Input()
	settings.HouseName, settings.SelfRegistration = "Gartenhaus am Obstgarten", true
	if err := st.UpdateSettings(ctx, h.admin, settings); err != nil {
		t.Fatal(err)
	}
	return h
}

func mustID(t *testing.T, id string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(id, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// e2eLongReplica is replication as the Backups page shows it, with the long
// paths and messages that made the page wider than a phone.
type e2eLongReplica struct{}

func (e2eLongReplica) Status() backup.ReplicationStatus {
	at := time.Date(2026, 8, 1, 7, 59, 58, 0, time.UTC)
	return backup.ReplicationStatus{
		Type:          "sftp",
		Stopped:       "ssh: handshake failed: knownhosts: key mismatch for nas-im-keller.fritz.box:22 (/home/pi/.ssh/known_hosts_gartenhaus_booking_replica)",
		Location:      "sftp://pi@nas-im-keller.fritz.box:22/srv/datensicherung/familie/gartenhaus-am-obstgarten/booking-replica-2026/generations",
		LastSync:      at,
		LastError:     "write /srv/datensicherung/familie/gartenhaus-am-obstgarten/booking-replica-2026/ltx/0/0000000000000001-00000000000000a2.ltx: no space left on device",
		LastErrorAt:   at.Add(-time.Hour),
		RestoreWindow: true,
		WindowStart:   at.Add(-30 * 24 * time.Hour),
		WindowEnd:     at,
		Validation:    "ok: 0000000000000001-00000000000000a2 (checksum 9f3c2a17b0d4e5f6)",
		ValidationAt:  at,
	}
}

// e2eLayout is what one look at a page measures.
type e2eLayout struct {
	Width       float64  `json:"width"`
	ScrollWidth float64  `json:"scrollWidth"`
	Clipped     string   `json:"clipped"` // html or body hides what sticks out
	Wide        []string `json:"wide"`    // what sticks out, when the page is too wide
	Small       []string `json:"small"`   // interactive elements under 24 x 24
	Targets     int      `json:"targets"`
	MinW        float64  `json:"minW"`
	MinH        float64  `json:"minH"`
	MinWho      string   `json:"minWho"`
	ContentTop  float64  `json:"contentTop"` // where the page's own content starts

}

// e2eMeasure measures the page as it is displayed now. With openMenus, the
// phone's menu is opened first (and closed again after).
const e2eMeasure = `((openMenus) => {
	const menus = openMenus ? [...document.querySelectorAll("details:not([open])")] : [];
	menus.forEach(d => d.open = true);
	const W = document.documentElement.clientWidth;
	const describe = el => {
		let s = el.tagName.toLowerCase();
		if (el.id) s += "#" + el.id;
		if (typeof el.className === "string" && el.className.trim()) s += "." + el.className.trim().split(/\s+/).join(".");
		const text = (el.innerText || el.value || el.getAttribute("aria-label") || "").trim().replace(/\s+/g, " ");
		return s + (text ? " \"" + text.slice(0, 40) + "\"" : "");
	};
	const out = {width: W, scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
		clipped: "", wide: [], small: [], targets: 0, minW: 1e9, minH: 1e9, minWho: "", contentTop: -1};
	for (const el of [document.documentElement, document.body]) {
		const ox = getComputedStyle(el).overflowX;
		if (ox === "hidden" || ox === "clip") out.clipped += el.tagName.toLowerCase() + " overflow-x: " + ox + "; ";
	}
	if (out.scrollWidth > W) {
		const far = [];
		// The outermost elements that pass the right edge, outside any box
		// that scrolls or clips them itself.
		for (const el of document.body.querySelectorAll("*")) {
			const r = el.getBoundingClientRect();
			if (r.width === 0 || r.right <= W + 0.5) continue;
			let inner = false;
			for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
				const ox = getComputedStyle(a).overflowX;
				if (ox !== "visible" || a.getBoundingClientRect().right > W + 0.5) { inner = true; break; }
			}
			if (!inner && out.wide.length < 8) out.wide.push(describe(el) + " right=" + Math.round(r.right));
			far.push([r.right, el]);
		}
		// An absolutely positioned element escapes a parent that clips:
		// then name the elements that reach furthest.
		if (out.wide.length === 0) {
			far.sort((a, b) => b[0] - a[0]);
			out.wide = far.slice(0, 5).map(([right, el]) => describe(el) + " right=" + Math.round(right));
		}
	}
	const sel = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])";
	for (const el of document.querySelectorAll(sel)) {
		const rects = [...el.getClientRects()];
		if (rects.length === 0 || getComputedStyle(el).visibility !== "visible") continue; // not displayed
		const box = el.getBoundingClientRect();
		const w = box.width, h = Math.min(...rects.map(r => r.height));
		out.targets++;
		if (Math.min(w, h) < Math.min(out.minW, out.minH)) out.minWho = describe(el) + " " + Math.round(w) + "x" + Math.round(h);
		out.minW = Math.min(out.minW, w);
		out.minH = Math.min(out.minH, h);
		if (w < 24 - 0.01 || h < 24 - 0.01) out.small.push(describe(el) + " " + w.toFixed(1) + "x" + h.toFixed(1));
	}
	const first = document.querySelector("main > *");
	if (first) out.contentTop = first.getBoundingClientRect().top + window.scrollY;
	menus.forEach(d => d.open = false);
	return out;
})`

// e2eAxeRun runs axe-core on the page with the WCAG 2.2 AA rules and
// returns one line per violation.
func e2eAxeRun(tags []string) string {
	return `(async () => {
		const r = await axe.run(document, {runOnly: {type: "tag", values: ` + e2eJSON(tags) + `}, resultTypes: ["violations"]});
		return r.violations.map(v => v.id + " (" + v.impact + "): " + v.help + "\n      " +
			v.nodes.slice(0, 4).map(n => n.target.join(" ") + " — " + (n.failureSummary || "").replace(/\s+/g, " ")).join("\n      "));
	})()`
}

func e2eJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// e2eAudit collects what the page checks find, per page and view, and the
// figures for the report.
type e2eAudit struct {
	mu       sync.Mutex
	axe      string
	problems []string
	looks    int
	axeRuns  int
	axeTime  time.Duration
	minW     float64
	minH     float64
	minWho   string
	widest   map[string]float64 // page → scroll width at 390 px
}

func newE2EAudit(axe string) *e2eAudit {
	return &e2eAudit{axe: axe, minW: math.Inf(1), minH: math.Inf(1), widest: map[string]float64{}}
}

func (a *e2eAudit) fail(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.problems = append(a.problems, fmt.Sprintf(format, args...))
}

// look checks the page p shows now at one width: no sideways scrolling
// (phones), every interactive element at least 24 x 24, axe's WCAG 2.2 AA
// rules, and on phones the heading near the top; with the phone's menu open
// as well.
func (a *e2eAudit) look(p *e2ePerson, label string, phone bool) {
	p.t.Helper()
	width := e2eDesktopWidth
	if phone {
		width = e2ePhoneWidth
	}
	views := []bool{false}
	if phone {
		views = append(views, true)
	}
	for _, menuOpen := range views {
		where := fmt.Sprintf("%s at %d px", label, width)
		if menuOpen {
			where += " with the menu open"
		}
		l := e2eJS[e2eLayout](p, e2eMeasure+"("+fmt.Sprint(menuOpen)+")")
		a.mu.Lock()
		a.looks++
		if l.Targets > 0 && (l.MinW < a.minW || l.MinH < a.minH) {
			if math.Min(l.MinW, l.MinH) < math.Min(a.minW, a.minH) {
				a.minWho = where + ": " + l.MinWho
			}
			a.minW, a.minH = math.Min(a.minW, l.MinW), math.Min(a.minH, l.MinH)
		}
		if phone && !menuOpen {
			a.widest[label] = math.Max(a.widest[label], l.ScrollWidth)
		}
		a.mu.Unlock()
		if l.Width != float64(width) {
			a.fail("%s: the page is %v px wide, want %d (viewport not applied)", where, l.Width, width)
		}
		if l.ScrollWidth > l.Width {
			a.fail("%s: scrolls sideways, %v px of content in %v px; sticking out: %s", where, l.ScrollWidth, l.Width, strings.Join(l.Wide, "; "))
		}
		if l.Clipped != "" {
			a.fail("%s: %s(hides what is too wide instead of fitting it)", where, l.Clipped)
		}
		if l.Targets == 0 {
			a.fail("%s: no interactive element measured (the page did not render?)", where)
		}
		if len(l.Small) > 0 {
			a.fail("%s: targets smaller than %d x %d px:\n    %s", where, e2eMinTarget, e2eMinTarget, strings.Join(l.Small, "\n    "))
		}
		if phone && !menuOpen && l.ContentTop > e2eContentTop {
			a.fail("%s: the content starts at y = %v, want at most %d", where, l.ContentTop, e2eContentTop)
		}
	}
	// axe waits on timers, which do not fire while scripts are off: switch
	// them on for its run. The page's own script does not run late for it
	// (it was skipped while the page loaded).
	if p.noJS {
		p.setJS(true)
	}
	if !e2eJS[bool](p, `typeof window.axe === "object"`) {
		e2eJS[chromedp.Void](p, a.axe)
	}
	axeStart := time.Now()
	violations := e2eRun(p, "run axe on "+label, chromedp.Evaluate[[]string](e2eAxeRun(e2eAxeTags), chromedp.EvalAwaitPromise))
	a.mu.Lock()
	a.axeTime += time.Since(axeStart)
	a.mu.Unlock()
	if p.noJS {
		p.setJS(false)
	}
	a.mu.Lock()
	a.axeRuns++
	a.mu.Unlock()
	if len(violations) > 0 {
		a.fail("%s at %d px: axe-core (WCAG 2.2 AA) finds:\n    %s", label, width, strings.Join(violations, "\n    "))
	}
}

// both looks at the page at phone width, then at desktop width, without
// loading it again, and goes back to the phone.
func (a *e2eAudit) both(p *e2ePerson, label string) {
	p.t.Helper()
	a.look(p, label, true)
	// WCAG's reflow width (1.4.10: 320 CSS px, a 1280 px screen at 400 %):
	// no sideways scrolling there either.
	p.do("reflow width", chromedp.EmulateViewport(e2eReflowWidth, e2ePhoneHeight, chromedp.EmulateMobile, chromedp.EmulateTouch))
	e2eSettle(p)
	if l := e2eJS[e2eLayout](p, e2eMeasure+"(false)"); l.ScrollWidth > l.Width || l.Width != e2eReflowWidth {
		a.fail("%s at %d px: %v px of content in %v px; sticking out: %s", label, e2eReflowWidth, l.ScrollWidth, l.Width, strings.Join(l.Wide, "; "))
	}
	p.do("desktop width", p.viewport(false))
	e2eSettle(p)
	a.look(p, label, false)
	p.do("phone width", p.viewport(true))
	e2eSettle(p)
}

// e2eSettle waits until the layout has caught up with a new viewport.
func e2eSettle(p *e2ePerson) {
	p.t.Helper()
	// requestAnimationFrame does not run in a tab without JavaScript; a
	// forced layout (reading a size) is enough for the measurements.
	e2eJS[float64](p, `document.documentElement.getBoundingClientRect().width`)
}

// e2ePage is one page of the audit: who looks at it, where, and optionally
// how to get from there to the page to check (a refused form).
type e2ePage struct {
	who    string // "" (nobody logged in), anna, ben, dora, admin
	path   string
	status int
	name   string
	// then, when set, acts on the loaded page and the form with the action
	// submit is sent; the page it leads to is checked, and must answer with
	// thenStatus.
	then       func(p *e2ePerson)
	submit     string
	thenStatus int
	// shot names the screenshots of the page (German, JavaScript on).
	shot string
}

func e2ePages(h *e2eHouse) []e2ePage {
	month := "?month=2026-08"
	return []e2ePage{
		{who: "", path: "/login", status: 200, name: "login"},
		{who: "", path: "/login", status: 200, name: "login refused", submit: "/login", thenStatus: 422, then: func(p *e2ePerson) {
			p.typeInto("email", "anna@example.org")
			p.typeInto("password", "falsch")
		}},
		{who: "", path: "/forgot", status: 200, name: "forgot"},
		{who: "", path: "/register", status: 200, name: "register"},
		{who: "", path: "/register", status: 200, name: "register refused", submit: "/register", thenStatus: 422, then: func(p *e2ePerson) {
			p.typeInto("name", "Gustav")
			p.typeInto("email", "kein-at-zeichen")
		}},
		{who: "", path: "/setup/" + h.setupToken, status: 200, name: "setup"},
		{who: "", path: "/invite/" + h.inviteToken, status: 200, name: "invitation"},
		{who: "", path: "/reset/" + h.resetToken, status: 200, name: "password reset"},
		{who: "", path: "/gibt-es-nicht", status: 404, name: "not found"},
		{who: "dora", path: "/calendar", status: 403, name: "waiting for approval"},
		{who: "anna", path: "/calendar" + month, status: 200, name: "calendar, busy month", shot: "a11y-calendar-busy-month"},
		{who: "anna", path: "/calendar?month=2026-10", status: 200, name: "calendar, empty month"},
		{who: "anna", path: "/availability" + month, status: 200, name: "free beds per accommodation", shot: "a11y-free-beds"},
		{who: "anna", path: "/bookings", status: 200, name: "my bookings", shot: "a11y-my-bookings"},
		{who: "anna", path: "/bookings?when=all&status=rejected", status: 200, name: "my bookings, filtered"},
		{who: "anna", path: "/bookings/new", status: 200, name: "booking form", shot: "a11y-booking-form"},
		{who: "anna", path: "/bookings/new?arrival=2026-08-13&departure=2026-08-15&check=1", status: 200, name: "booking form, free beds shown"},
		{who: "anna", path: fmt.Sprintf("/bookings/new?arrival=2026-08-13&departure=2026-08-15&persons.%d=2&notes=Mit+Hund+%%F0%%9F%%90%%95", h.room.ID),
			status: 200, name: "booking form refused", shot: "a11y-booking-refused", submit: "/bookings", thenStatus: 422, then: func(p *e2ePerson) {}},
		{who: "anna", path: "/bookings/" + h.annaAccepted, status: 200, name: "own booking"},
		{who: "anna", path: "/bookings/" + h.annaAccepted + "/edit", status: 200, name: "edit booking"},
		{who: "anna", path: "/bookings/" + h.annaAccepted + "/cancel", status: 200, name: "cancel booking"},
		{who: "anna", path: "/bookings/" + h.annaRejected, status: 200, name: "own rejected booking"},
		{who: "anna", path: "/profile", status: 200, name: "my account"},
		{who: "ben", path: "/bookings/" + h.annaAccepted, status: 200, name: "someone else's booking"},
		// (Rejected bookings are not found for other members.)
		{who: "ben", path: "/bookings/" + h.annaRejected, status: 404, name: "someone else's rejected booking"},
		{who: "admin", path: "/calendar" + month, status: 200, name: "calendar as administrator"},
		{who: "admin", path: "/admin", status: 200, name: "admin dashboard", shot: "a11y-admin-dashboard"},
		{who: "admin", path: "/admin/bookings?when=all", status: 200, name: "all bookings"},
		{who: "admin", path: "/bookings/" + h.benPending, status: 200, name: "booking to decide", shot: "a11y-booking-decide"},
		{who: "admin", path: "/admin/members", status: 200, name: "members", shot: "a11y-members"},
		{who: "admin", path: "/admin/members", status: 200, name: "members, invitation refused", submit: "/admin/members", thenStatus: 422, then: func(p *e2ePerson) {
			p.typeInto("name", "Hans")
			p.typeInto("email", "anna@example.org")
		}},
		{who: "admin", path: "/admin/accommodations", status: 200, name: "accommodations"},
		{who: "admin", path: "/admin/accommodations/new", status: 200, name: "new accommodation refused", submit: "/admin/accommodations", thenStatus: 422, then: func(p *e2ePerson) {
			p.typeInto("beds", "500")
		}},
		{who: "admin", path: fmt.Sprintf("/admin/accommodations/%d/edit", h.attic.ID), status: 200, name: "edit accommodation"},
		{who: "admin", path: "/admin/settings", status: 200, name: "house settings", shot: "a11y-settings"},
		{who: "admin", path: "/admin/backups", status: 200, name: "backups, long replica path", shot: "a11y-backups"},
	}
}

// TestE2EPhoneAndAccessibility drives every page in a real Chromium at
// 390 px and 1280 px, with JavaScript on and off, in German and English:
// no sideways scrolling, no interactive element under 24 x 24 px, no axe-core
// violation of WCAG 2.2 AA; then the booking form's Enter key, every admin
// form at phone width with JavaScript on, and the language switch.
// Screenshots of the phone's busy calendar, booking form, dashboard and
// settings go to $E2E_ARTIFACTS (else testdata/screenshots/).
func TestE2EPhoneAndAccessibility(t *testing.T) {
	if testing.Short() {
		t.Skip("browser checks: not in -short mode")
	}
	started := time.Now()
	axeSource := e2eAxeSource(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv, st := e2eServer(t, ctx, e2eLongReplica{})
	h := e2eFurnish(t, ctx, st)
	b, stop := e2eStartBrowser(t, ctx, srv.URL)
	defer stop()

	cookies := map[string]string{}
	for who, u := range map[string]*store.User{"anna": h.anna, "ben": h.ben, "dora": h.dora, "admin": h.admin} {
		cookies[who] = e2eLoginCookie(t, srv.URL, u, h.password)
	}
	audit := newE2EAudit(axeSource)
	t.Run("the checks find what they look for", func(t *testing.T) {
		e2eCheckTheChecks(t, b, audit)
	})
	pages := e2ePages(h)
	for _, lang := range []string{"de", "en"} {
		for _, js := range []bool{true, false} {
			name := lang + "-js-" + map[bool]string{true: "on", false: "off"}[js]
			t.Run("pages "+name, func(t *testing.T) {
				e2eAuditPages(t, b, audit, pages, cookies, lang, js)
			})
		}
	}
	// The flows change the house, so they come after the pages.
	t.Run("Enter in any field of the booking form books", func(t *testing.T) {
		e2eEnterBooks(t, b, st, h)
	})
	t.Run("admin forms at phone width with JavaScript", func(t *testing.T) {
		e2eAdminForms(t, b, st, h, audit)
	})
	t.Run("phone details", func(t *testing.T) {
		e2ePhoneDetails(t, b, st, h)
	})
	t.Run("the language switch keeps the page", func(t *testing.T) {
		e2eLanguageSwitch(t, b, h)
	})
	a := audit
	for _, p := range a.problems {
		t.Error(p)
	}
	if a.looks == 0 {
		return
	}
	t.Logf("%d looks at pages, %d axe runs (%s of axe) in %s; smallest target %.1f x %.1f px (%s)",
		a.looks, a.axeRuns, a.axeTime.Round(time.Millisecond), time.Since(started).Round(time.Millisecond), a.minW, a.minH, a.minWho)
	var widths []string
	for page, w := range a.widest {
		widths = append(widths, fmt.Sprintf("%s %v", page, w))
	}
	t.Logf("widths at 390 px: %s", strings.Join(widths, ", "))
	b.checkClean()
}

// e2eAuditPages looks at every page in one language, with JavaScript on or
// off, as the people the pages are for.
func e2eAuditPages(t *testing.T, b *e2eBrowser, audit *e2eAudit, pages []e2ePage, cookies map[string]string, lang string, js bool) {
	people := map[string]*e2ePerson{}
	for _, pg := range pages {
		p := people[pg.who]
		if p == nil {
			var closeP context.CancelFunc
			p, closeP = b.newPersonIn(t, lang+"-"+pg.who, true)
			defer closeP()
			if !js {
				p.disableJS()
			}
			p.setCookie("lang", lang)
			if pg.who != "" {
				p.setCookie("booking_session", cookies[pg.who])
			}
			people[pg.who] = p
		}
		label := fmt.Sprintf("%s (%s, JavaScript %s)", pg.name, lang, map[bool]string{true: "on", false: "off"}[js])
		p.open(b.origin+pg.path, pg.status)
		if pg.then != nil {
			pg.then(p)
			p.click(`//main//form[@action="`+pg.submit+`"]//button[@type="submit" and not(@hidden) and not(@formmethod)]`, pg.thenStatus)
		}
		if got := e2eJS[string](p, `document.documentElement.lang`); got != lang {
			p.fatalf("%s: page language %q, want %q", label, got, lang)
		}
		if hasJS := e2eJS[bool](p, `document.documentElement.classList.contains("js")`); hasJS != js {
			p.fatalf("%s: the page's script ran: %v, want %v", label, hasJS, js)
		}
		audit.both(p, label)
		if pg.shot != "" && lang == "de" && js {
			p.screenshot(pg.shot)
			if pg.who == "admin" && pg.path == "/admin" {
				p.do("open the menu", chromedp.Click(`//header//details[contains(@class,"nav-phone")]/summary`))
				p.screenshotAsIs("a11y-menu-open-phone")
				p.do("close the menu", chromedp.Click(`//header//details[contains(@class,"nav-phone")]/summary`))
			}
		}
	}
}

// e2eCheckTheChecks spoils a page on purpose (a tiny button, a box wider
// than the phone, grey text on white) and wants each check to say so: a
// check that cannot fail would prove nothing.
func e2eCheckTheChecks(t *testing.T, b *e2eBrowser, audit *e2eAudit) {
	p, closeP := b.newPersonIn(t, "spoiler", true)
	defer closeP()
	p.open(b.origin+"/login", http.StatusOK)
	// Styles through the CSSOM: the page's Content-Security-Policy refuses
	// style attributes.
	e2eJS[chromedp.Void](p, `(() => {
		const add = (tag, text, style) => {
			const el = document.createElement(tag);
			el.textContent = text;
			Object.assign(el.style, style);
			document.querySelector("main").append(el);
			return el;
		};
		add("button", "x", {minHeight: "0", width: "18px", height: "18px", padding: "0", margin: "0"}).id = "tiny";
		add("div", "wide", {width: "600px"});
		add("p", "grey on white", {color: "#bbb", background: "#fff"});
	})()`)
	l := e2eJS[e2eLayout](p, e2eMeasure+"(false)")
	if l.ScrollWidth <= l.Width || len(l.Wide) == 0 {
		t.Errorf("a 600 px box at 390 px: scroll width %v in %v, sticking out %q; want it found", l.ScrollWidth, l.Width, l.Wide)
	}
	if !strings.Contains(strings.Join(l.Small, "\n"), "button#tiny") {
		t.Errorf("an 18 x 18 button: small targets %q; want it found", l.Small)
	}
	e2eJS[chromedp.Void](p, audit.axe)
	violations := e2eRun(p, "run axe", chromedp.Evaluate[[]string](e2eAxeRun(e2eAxeTags), chromedp.EvalAwaitPromise))
	joined := strings.Join(violations, "\n")
	// (axe's own target-size rule lets a small target pass when it has room
	// around it; the measurement above holds every target to 24 x 24.)
	if !strings.Contains(joined, "color-contrast") {
		t.Errorf("axe finds %q, want color-contrast among them", joined)
	}
}

// e2eMember opens a browser context at phone width for u, logged in through
// the login form, with JavaScript on or off.
func e2eMember(t *testing.T, b *e2eBrowser, h *e2eHouse, u *store.User, name string, js bool) (*e2ePerson, context.CancelFunc) {
	t.Helper()
	p, closeP := b.newPersonIn(t, name, true)
	if !js {
		p.disableJS()
	}
	p.open(b.origin+"/login", http.StatusOK)
	p.typeInto("email", u.Email)
	p.typeInto("password", h.password)
	p.click(`//main//form[@action="/login"]//button[@type="submit"]`, http.StatusOK)
	p.wantPath("/calendar")
	return p, closeP
}

// pressEnter presses Enter in the field with the id and waits for the page
// that follows.
func (p *e2ePerson) pressEnter(id string, wantStatus int) {
	p.t.Helper()
	var resp *network.Response
	p.step("press Enter in #"+id, func(ctx context.Context) error {
		var err error
		resp, err = chromedp.RunResponse(ctx, chromedp.Focus(chromedp.ID(id)), chromedp.KeyEvent("\r"))
		return err
	})
	if resp.Status != int64(wantStatus) {
		p.fatalf("Enter in #%s: status %d, want %d", id, resp.Status, wantStatus)
	}
}

// e2eEnterBooks: Enter in the dates or in any persons field sends the
// booking (the form's first submit button is the booking's, not "show free
// beds"), with JavaScript on and off; "show free beds" says that nothing is
// booked yet; a refusal puts the focus on the summary of what is wrong.
func e2eEnterBooks(t *testing.T, b *e2eBrowser, st *store.Store, h *e2eHouse) {
	ctx := context.Background()
	fields := []string{"arrival", "departure"}
	for _, acc := range []*store.Accommodation{h.room, h.attic, h.tent, h.camper, h.meadow} {
		fields = append(fields, fmt.Sprintf("persons-%d", acc.ID))
	}
	meadow := fmt.Sprintf("persons-%d", h.meadow.ID)
	for round, js := range []bool{true, false} {
		mode := map[bool]string{true: "on", false: "off"}[js]
		p, closeP := e2eMember(t, b, h, h.anna, "enter-js-"+mode, js)
		defer closeP()
		if got := e2eJS[bool](p, `document.documentElement.classList.contains("js")`); got != js {
			p.fatalf("the page's script ran: %v, want %v", got, js)
		}
		for i, field := range fields {
			arrival := store.MakeDate(2026, time.September, 1).AddDays(round*40 + i*2)
			p.open(b.origin+"/bookings/new", http.StatusOK)
			p.setField("arrival", arrival.String())
			p.setField("departure", arrival.AddDays(1).String())
			p.typeInto(meadow, "1")
			p.pressEnter(field, http.StatusOK)
			id := e2eBookingID(p)
			p.wantFlash("Deine Buchung ist angefragt und wartet auf Freigabe.")
			bk, err := st.Booking(ctx, h.anna, mustID(t, id))
			if err != nil || bk.Arrival != arrival || len(bk.Items) != 1 || bk.Items[0].AccommodationID != h.meadow.ID {
				p.fatalf("Enter in #%s (JavaScript %s) booked %+v (%v), want %s in the Zeltwiese", field, mode, bk, err, arrival)
			}
		}
		// The edit form too: Enter saves.
		edited := e2eBookingID(p)
		p.open(b.origin+"/bookings/"+edited+"/edit", http.StatusOK)
		p.typeInto(meadow, "2")
		p.pressEnter(meadow, http.StatusOK)
		p.wantPath("/bookings/" + edited)
		p.wantFlash("Die Buchung ist geändert.")
		// In the notes, Enter starts a new line and sends nothing.
		p.open(b.origin+"/bookings/new", http.StatusOK)
		p.typeInto("notes", "Erste Zeile")
		p.do("Enter in the notes", chromedp.Focus(chromedp.ID("notes")), chromedp.KeyEvent("\r"), chromedp.KeyEvent("zweite"))
		if got := p.value("notes"); got != "Erste Zeile\nzweite" || p.path() != "/bookings/new" {
			p.fatalf("Enter in the notes: %q on %s, want a second line on the form", got, p.path())
		}

		// "Show free beds" (only there without JavaScript) books nothing and
		// says so, with what was typed kept.
		if !js {
			before, err := st.Bookings(ctx, store.BookingFilter{UserID: h.anna.ID, When: store.WhenAll})
			if err != nil {
				t.Fatal(err)
			}
			p.open(b.origin+"/bookings/new", http.StatusOK)
			p.setField("arrival", "2026-08-14")
			p.setField("departure", "2026-08-16")
			p.typeInto(meadow, "3")
			p.click(`//main//button[contains(@class,"check-free")]`, http.StatusOK)
			if loc := e2eRun(p, "read the location", chromedp.Location()); !strings.Contains(loc, "/bookings/new?") || !strings.HasSuffix(loc, "#where") {
				p.fatalf("show free beds went to %s, want the form again at #where", loc)
			}
			p.wantText(`//fieldset[@id="where"]/p[@role="status"]`, "Noch ist nichts gebucht")
			p.wantText(fmt.Sprintf(`//*[@id="free-%d"]`, h.meadow.ID), "frei")
			if got := p.value(meadow); got != "3" {
				p.fatalf("after show free beds the Zeltwiese holds %q, want 3", got)
			}
			after, err := st.Bookings(ctx, store.BookingFilter{UserID: h.anna.ID, When: store.WhenAll})
			if err != nil || len(after) != len(before) {
				p.fatalf("show free beds changed Anna's bookings from %d to %d (%v)", len(before), len(after), err)
			}
			if p.flash() != "" {
				p.fatalf("show free beds shows the flash %q", p.flash())
			}
		}

		// A refusal: the focus is on the summary, which leads to the field.
		p.open(b.origin+"/bookings/new", http.StatusOK)
		p.setField("arrival", "2026-08-14")
		p.setField("departure", "2026-08-15")
		p.typeInto(fmt.Sprintf("persons-%d", h.tent.ID), "1")
		p.pressEnter("arrival", http.StatusUnprocessableEntity)
		if got := e2eFocusSettles(p, "error-summary"); got != "error-summary" {
			p.fatalf("after a refusal (JavaScript %s) the focus is on %q, want the error summary", mode, got)
		}
		p.wantText(`//div[contains(@class,"error-summary")]//a[@href="#persons-`+fmt.Sprint(h.tent.ID)+`"]`, "Zelt")
	}
}

// e2eAdminForms sends every administration form at phone width with
// JavaScript on (a check box that only showed without JavaScript once kept
// administrators from allowing self-registration), clicking what is on the
// screen, as an administrator on a phone would.
func e2eAdminForms(t *testing.T, b *e2eBrowser, st *store.Store, h *e2eHouse, audit *e2eAudit) {
	ctx := context.Background()
	p, closeP := e2eMember(t, b, h, h.admin, "admin-phone", true)
	defer closeP()
	saved := func() {
		p.t.Helper()
		p.wantFlash("Gespeichert.")
	}
	row := func(text string) string { return `//main//table//tr[td[normalize-space()="` + text + `"]]` }

	// Settings: the check box is there and can be ticked and unticked.
	p.nav("/admin/settings", http.StatusOK)
	p.wantText(`//main//h1`, "Einstellungen des Hauses")
	if !st.Settings().SelfRegistration {
		t.Fatal("the house starts with self-registration on")
	}
	p.do("untick self-registration", chromedp.Click(chromedp.ID("self_registration")))
	p.typeInto("max_nights", "21")
	p.click(`//main//form[@action="/admin/settings"]//button[@type="submit"]`, http.StatusOK)
	saved()
	if s := st.Settings(); s.SelfRegistration || s.MaxNights != 21 {
		t.Fatalf("after saving: self-registration %v, max nights %d; want false, 21", s.SelfRegistration, s.MaxNights)
	}
	p.do("tick self-registration by its label", chromedp.Click(`//label[@for="self_registration"]`))
	p.click(`//main//form[@action="/admin/settings"]//button[@type="submit"]`, http.StatusOK)
	saved()
	if !st.Settings().SelfRegistration {
		t.Fatal("ticking the label did not turn self-registration on")
	}
	audit.look(p, "house settings after saving (de, JavaScript on)", true)
	// The house feed's privacy, a form of its own on the settings page.
	p.do("tick occupied only", chromedp.Click(chromedp.ID("occupied_only")))
	p.click(`//main//form[@action="/admin/settings/feeds"]//button[@type="submit"]`, http.StatusOK)
	saved()
	if !st.Settings().HouseFeedOccupiedOnly {
		t.Fatal("ticking the house feed's box did not save it")
	}

	// Accommodations: add, change, deactivate, reactivate.
	p.nav("/admin/accommodations", http.StatusOK)
	p.click(`//main//a[@href="/admin/accommodations/new"]`, http.StatusOK)
	p.typeInto("name", "Baumhaus")
	p.setField("kind", "other")
	p.typeInto("beds", "2")
	p.typeInto("sort_order", "5")
	p.typeInto("description", "Nur bei trockenem Wetter.")
	p.click(`//main//form[@action="/admin/accommodations"]//button[@type="submit"]`, http.StatusOK)
	saved()
	p.wantText(row("Baumhaus"), "Sonstiges")
	p.click(row("Baumhaus")+`//a[normalize-space()="Ändern"]`, http.StatusOK)
	p.typeInto("beds", "3")
	p.click(`//main//form[contains(@action,"/edit")]//button[@type="submit"]`, http.StatusOK)
	saved()
	p.wantText(row("Baumhaus"), "3")
	p.click(row("Baumhaus")+`//button[normalize-space()="Deaktivieren"]`, http.StatusOK)
	saved()
	p.wantText(row("Baumhaus"), "deaktiviert")
	p.click(row("Baumhaus")+`//button[normalize-space()="Reaktivieren"]`, http.StatusOK)
	saved()
	p.wantText(row("Baumhaus"), "ja")

	// Members: an invitation (with the copy button that JavaScript adds),
	// approving, disabling and enabling, the role both ways, a reset link.
	p.nav("/admin/members", http.StatusOK)
	p.typeInto("name", "Gustav")
	p.typeInto("email", "gustav@example.org")
	p.setField("role", "admin")
	p.click(`//main//form[@action="/admin/members"]//button[@type="submit"]`, http.StatusOK)
	p.wantText(`//section[contains(@class,"linkbox")]//h2`, "Einladungslink für Gustav")
	p.do("the copy button shows", chromedp.WaitVisible(`//section[contains(@class,"linkbox")]//button[contains(@class,"copy")]`))
	p.wantText(row("gustav@example.org"), "Administrator")
	p.click(row("dora@example.org")+`//button[normalize-space()="Freigeben"]`, http.StatusOK)
	saved()
	p.wantText(row("dora@example.org"), "freigegeben")
	p.click(row("ben@example.org")+`//button[normalize-space()="Sperren"]`, http.StatusOK)
	saved()
	p.wantText(row("ben@example.org"), "gesperrt")
	p.click(row("ben@example.org")+`//button[normalize-space()="Entsperren"]`, http.StatusOK)
	saved()
	p.wantText(row("ben@example.org"), "freigegeben")
	p.click(row("anna@example.org")+`//button[normalize-space()="Zum Administrator machen"]`, http.StatusOK)
	saved()
	p.wantText(row("anna@example.org"), "Administrator")
	p.click(row("anna@example.org")+`//button[normalize-space()="Zum Mitglied machen"]`, http.StatusOK)
	saved()
	p.wantText(row("anna@example.org"), "Mitglied")
	p.click(row("anna@example.org")+`//button[normalize-space()="Link zum Zurücksetzen"]`, http.StatusOK)
	p.wantText(`//section[contains(@class,"linkbox")]//h2`, "Link zum Zurücksetzen für Anna")
	audit.look(p, "members with a fresh link (de, JavaScript on)", true)

	// The dashboard: accept a booking; a member waiting for approval is
	// turned away there.
	gerd, err := st.CreateUser(ctx, store.NewUser{Email: "gerd@example.org", Name: "Gerd", Role: store.RoleMember, State: store.StateRegistered, Password: h.password})
	if err != nil {
		t.Fatal(err)
	}
	p.nav("/admin", http.StatusOK)
	decision := `//ul[contains(@class,"decisions")]/li[a[@href="/bookings/` + h.longPending + `"]]`
	p.click(decision+`//button[normalize-space()="Annehmen"]`, http.StatusOK)
	p.wantFlash("Die Buchung ist angenommen.")
	if bk, err := st.Booking(ctx, h.admin, mustID(t, h.longPending)); err != nil || bk.Status != store.StatusAccepted {
		t.Fatalf("accepted on the dashboard: %+v, %v", bk, err)
	}
	p.click(`//ul[contains(@class,"decisions")]/li[contains(.,"gerd@example.org")]//button[normalize-space()="Ablehnen"]`, http.StatusOK)
	saved()
	if u, err := st.User(ctx, gerd.ID); err != nil || u.State != store.StateRejected {
		t.Fatalf("Gerd after the refusal: %+v, %v", u, err)
	}

	// A booking rejected with a reason, from the dashboard's "Ablehnen…".
	p.click(`//ul[contains(@class,"decisions")]/li[a[@href="/bookings/`+h.benPending+`"]]//a[contains(@class,"button")]`, http.StatusOK)
	p.wantPath("/bookings/" + h.benPending)
	p.typeInto("reason", "Das Zelt wird in der Woche repariert.")
	p.click(`//main//form[contains(@action,"/reject")]//button[@type="submit"]`, http.StatusOK)
	p.wantFlash("Die Buchung ist abgelehnt.")
	p.wantText(`//dl[contains(@class,"facts")]`, "Das Zelt wird in der Woche repariert.")
	p.wantText(`//main//a[@href="/admin/bookings"]`, "Zurück zu allen Buchungen")

	// All bookings, filtered.
	p.nav("/admin/bookings", http.StatusOK)
	p.setField("when", "all")
	p.setField("status", "rejected")
	p.click(`//main//form[contains(@class,"filter")]//button[@type="submit"]`, http.StatusOK)
	p.wantPath("/admin/bookings?when=all&status=rejected")
	p.wantText(`//main//table`, "Ben")

	// An administrator cancels a booking, after the question.
	p.open(b.origin+"/bookings/"+h.annaAccepted, http.StatusOK)
	p.click(`//main//a[@href="/bookings/`+h.annaAccepted+`/cancel"]`, http.StatusOK)
	p.click(`//main//form[contains(@action,"/cancel")]//button[@type="submit"]`, http.StatusOK)
	p.wantFlash("Die Buchung ist storniert.")
	e2eBookingStatus(p, "storniert")

	// The profile: name and password.
	p.nav("/profile", http.StatusOK)
	p.wantText(`//main//h1`, "Mein Konto")
	p.typeInto("name", "Helga M.")
	p.click(`//main//form[@action="/profile"]//button[@type="submit"]`, http.StatusOK)
	saved()
	p.typeInto("current", h.password)
	p.typeInto("password", h.password+"!")
	p.typeInto("password2", h.password+"!")
	p.click(`//main//form[@action="/profile/password"]//button[@type="submit"]`, http.StatusOK)
	p.wantFlash("Dein Passwort ist geändert.")
	p.logOut(http.StatusOK)
	p.wantPath("/login")
}

// e2ePhoneDetails checks what the issue saw on a phone, one by one.
func e2ePhoneDetails(t *testing.T, b *e2eBrowser, st *store.Store, h *e2eHouse) {
	p, closeP := b.newPersonIn(t, "details", true)
	defer closeP()
	p.setCookie("lang", "de")
	p.setCookie("booking_session", e2eLoginCookie(t, b.origin, h.long[1], h.password))

	// The calendar: every one of the six full names is on the phone's
	// screen, whole and at a readable size.
	p.open(b.origin+"/calendar?month=2026-08", http.StatusOK)
	names := e2eJS[[]map[string]any](p, `[...document.querySelectorAll(".agenda .who")].map(el => ({
		text: el.textContent.trim(), size: parseFloat(getComputedStyle(el).fontSize),
		clipped: el.scrollWidth > el.clientWidth, shown: el.getClientRects().length > 0}))`)
	for _, want := range e2eLongNames {
		found := false
		for _, n := range names {
			if n["text"] == want {
				found = true
				if n["clipped"] == true || n["shown"] != true || n["size"].(float64) < 16 {
					p.fatalf("the calendar shows %q as %v, want it whole, shown, at 16 px or more", want, n)
				}
			}
		}
		if !found {
			p.fatalf("the phone's calendar does not show %q in full; names: %v", want, names)
		}
	}
	// Each stay says where and how many.
	p.wantText(`//ol[contains(@class,"agenda")]//a[.//span[@class="who" and normalize-space()="`+e2eLongNames[5]+`"]]`, "Wohnwagen (2 Personen), Zeltwiese (2 Personen)")
	// Days of other months in the desktop grid are readable (4.5:1).
	p.do("desktop width", p.viewport(false))
	if got := e2eJS[string](p, `getComputedStyle(document.querySelector("td.out .day")).color`); got != "rgb(79, 90, 84)" {
		p.fatalf("days of other months are in %s, want the muted ink rgb(79, 90, 84) (6.4:1 on their grey)", got)
	}
	p.do("phone width", p.viewport(true))

	// My bookings: each filter's label sits right above its list.
	p.open(b.origin+"/bookings", http.StatusOK)
	for _, id := range []string{"when", "status"} {
		gap := e2eJS[map[string]float64](p, `(() => {
			const l = document.querySelector("label[for=`+id+`]").getBoundingClientRect();
			const s = document.getElementById("`+id+`").getBoundingClientRect();
			return {gap: s.top - l.bottom, dx: Math.abs(s.left - l.left)};
		})()`)
		if gap["gap"] < 0 || gap["gap"] > 12 || gap["dx"] > 2 {
			p.fatalf("the label of #%s is %v px above and %v px beside its list, want right above it", id, gap["gap"], gap["dx"])
		}
	}

	// Someone else's rejected booking: not there at all, so no empty
	// "Begründung" either.
	p.open(b.origin+"/bookings/"+h.annaRejected, http.StatusNotFound)
	if e2eJS[bool](p, `[...document.querySelectorAll("dt")].some(dt => dt.textContent.includes("Begründung"))`) {
		p.fatalf("another member sees a Begründung on a rejected booking")
	}

	// An administrator's booking page: accepting and rejecting apart from
	// changing and cancelling; the two red buttons are not side by side.
	admin, closeAdmin := b.newPersonIn(t, "details-admin", true)
	defer closeAdmin()
	admin.setCookie("lang", "de")
	admin.setCookie("booking_session", e2eLoginCookie(t, b.origin, h.admin, h.password+"!"))
	pending, err := st.Bookings(context.Background(), store.BookingFilter{Status: store.StatusPending, When: store.WhenAll})
	if err != nil || len(pending) == 0 {
		t.Fatalf("no pending booking left (%v)", err)
	}
	admin.open(b.origin+"/bookings/"+strconvID(pending[0].ID), http.StatusOK)
	apart := e2eJS[map[string]any](admin, `(() => {
		const reject = document.querySelector("form.reject button.danger"), cancel = document.querySelector("a[href$='/cancel']");
		const r = reject.getBoundingClientRect(), c = cancel.getBoundingClientRect();
		return {sameCard: reject.closest(".card") === cancel.closest(".card"), gap: c.top - r.bottom};
	})()`)
	if apart["sameCard"] == true || apart["gap"].(float64) < 24 {
		admin.fatalf("Ablehnen and Stornieren: %v, want them in different cards, at least 24 px apart", apart)
	}
	// The profile and the house settings have different titles.
	admin.open(b.origin+"/profile", http.StatusOK)
	profile := admin.text(`//main//h1`)
	admin.open(b.origin+"/admin/settings", http.StatusOK)
	if settings := admin.text(`//main//h1`); settings == profile {
		admin.fatalf("the profile and the house settings are both called %q", profile)
	}
	// On a phone the administration's pages start right under the header.
	if top := e2eJS[float64](admin, `document.querySelector("main h1").getBoundingClientRect().top`); top > 100 {
		admin.fatalf("on a phone the settings' heading starts at y = %v, want at most 100", top)
	}
}

// e2eLanguageSwitch: switching the language shows the same page, with its
// query, in the other language.
func e2eLanguageSwitch(t *testing.T, b *e2eBrowser, h *e2eHouse) {
	p, closeP := b.newPersonIn(t, "language", true)
	defer closeP()
	p.setCookie("booking_session", e2eLoginCookie(t, b.origin, h.long[0], h.password))
	for _, page := range []struct{ path, de, en string }{
		{"/calendar?month=2027-01", "Januar 2027", "January 2027"},
		{"/bookings?when=past&status=", "Meine Buchungen", "My bookings"},
		{"/availability?month=2026-12", "Verfügbarkeit · Dezember 2026", "Availability · December 2026"},
	} {
		p.open(b.origin+page.path, http.StatusOK)
		p.wantText(`//main//h1`, page.de)
		p.click(`//footer//button[@value="en"]`, http.StatusOK)
		p.wantPath(page.path)
		p.wantText(`//main//h1`, page.en)
		p.click(`//footer//button[@value="de"]`, http.StatusOK)
		p.wantPath(page.path)
		p.wantText(`//main//h1`, page.de)
	}
}

// e2eFocusSettles waits (up to two seconds) until the focused element has
// the class want, and returns the focused element's class. The browser moves
// the focus to an autofocus element at its next frame after loading, not at
// once; the wait is polled from here because a page without JavaScript runs
// no timers of its own.
func e2eFocusSettles(p *e2ePerson, want string) string {
	p.t.Helper()
	var got string
	for deadline := time.Now().Add(2 * time.Second); ; {
		got = e2eJS[string](p, `document.activeElement ? document.activeElement.className : ""`)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}
