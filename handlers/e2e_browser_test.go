package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"booking/e2e"
)

// The helpers of the end-to-end story: one headless Chromium, one browser
// context (its own cookie jar) per person, and small steps that fail the
// test with the person's name and the page they were on.

const (
	e2eStepTimeout   = 30 * time.Second
	e2ePhoneWidth    = 390
	e2ePhoneHeight   = 844
	e2eDesktopWidth  = 1280
	e2eDesktopHeight = 900
)

// e2eChromium finds the browser; without one the test fails on CI (where
// .ci/run installs it) and is skipped elsewhere.
func e2eChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	e2e.ToolMissing(t, "Chromium is not installed: apt-get install chromium")
	return ""
}

// e2eArtifactsDir is where the screenshots go: $E2E_ARTIFACTS, else
// testdata/screenshots (gitignored).
func e2eArtifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	// A failure screenshot from an earlier run would only confuse.
	old, _ := filepath.Glob(filepath.Join(dir, "FAILED-*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	return dir
}

// e2eBrowser is one Chromium process that may talk to the test server only.
type e2eBrowser struct {
	t      *testing.T
	ctx    context.Context
	origin string // http://127.0.0.1:port
	shots  string

	mu         sync.Mutex
	requests   int      // all requests the pages made, to prove the guard listens
	foreign    []string // requests that left the test server
	exceptions []string // uncaught JavaScript errors
	saved      []string
}

// e2eStartBrowser starts headless Chromium for the test server at origin. The
// browser lives as long as ctx; the caller cancels it before t.TempDir is
// removed.
func e2eStartBrowser(t *testing.T, ctx context.Context, origin string) (*e2eBrowser, context.CancelFunc) {
	t.Helper()
	exe := e2eChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, // also hides scrollbars and mutes audio
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		// A closed network: every host name but the test server's address
		// fails to resolve, so nothing can leave the machine.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		// The family is German: the pages pick the language from this.
		chromedp.Flag("lang", "de-DE"),
		chromedp.Flag("accept-lang", "de-DE,de"),
		chromedp.WindowSize(e2eDesktopWidth, e2eDesktopHeight),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	b := &e2eBrowser{t: t, ctx: browserCtx, origin: origin, shots: e2eArtifactsDir(t)}
	if err := chromedp.Do(browserCtx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start %s: %v", exe, err)
	}
	return b, func() { cancelBrowser(); cancelAlloc() }
}

// listen records what the page does that the story must never see: a
// request to anything but the test server, an uncaught script error.
func (b *e2eBrowser) listen(who string) func(ev any) {
	return func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			u := ev.Request.URL
			b.mu.Lock()
			b.requests++
			b.mu.Unlock()
			if !strings.HasPrefix(u, b.origin+"/") && !strings.HasPrefix(u, "data:") && u != "about:blank" {
				b.mu.Lock()
				b.foreign = append(b.foreign, who+": "+u)
				b.mu.Unlock()
			}
		case *runtime.EventExceptionThrown:
			text := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				text += " " + ev.ExceptionDetails.Exception.Description
			}
			b.mu.Lock()
			b.exceptions = append(b.exceptions, fmt.Sprintf("%s: %s (%s:%d)", who, text, ev.ExceptionDetails.URL, ev.ExceptionDetails.LineNumber))
			b.mu.Unlock()
		}
	}
}

// checkClean fails the test for foreign requests or script errors.
func (b *e2eBrowser) checkClean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.requests == 0 {
		b.t.Errorf("saw no network requests at all: the guard against foreign requests is not listening")
	}
	if len(b.foreign) > 0 {
		b.t.Errorf("the browser talked to something else than the test server:\n%s", strings.Join(b.foreign, "\n"))
	}
	if len(b.exceptions) > 0 {
		b.t.Errorf("uncaught JavaScript errors:\n%s", strings.Join(b.exceptions, "\n"))
	}
}

// e2ePerson is someone at their own device: a separate browser context, so
// cookies (the session) are not shared with anyone else.
type e2ePerson struct {
	b     *e2eBrowser
	t     *testing.T // the test (or subtest) the person's steps report to
	name  string
	ctx   context.Context
	phone bool // browses with a phone-sized viewport
	noJS  bool // the page's scripts do not run (disableJS)
}

func (b *e2eBrowser) newPerson(name string, phone bool) (*e2ePerson, context.CancelFunc) {
	b.t.Helper()
	return b.newPersonIn(b.t, name, phone)
}

// newPersonIn is newPerson for a subtest: the person's failures stop t.
func (b *e2eBrowser) newPersonIn(t *testing.T, name string, phone bool) (*e2ePerson, context.CancelFunc) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(b.listen(name)))
	p := &e2ePerson{b: b, t: t, name: name, ctx: ctx, phone: phone}
	if err := chromedp.Do(ctx); err != nil { // opens the tab, bound to ctx
		cancel()
		t.Fatalf("%s: open a browser context: %v", name, err)
	}
	p.do("set the viewport", p.viewport(phone))
	return p, cancel
}

func (p *e2ePerson) viewport(phone bool) chromedp.Action[chromedp.Void] {
	if phone {
		return chromedp.EmulateViewport(e2ePhoneWidth, e2ePhoneHeight, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	return chromedp.EmulateViewport(e2eDesktopWidth, e2eDesktopHeight)
}

// fatalf stops the story with the page the person was on, and leaves a
// screenshot of it for whoever reads the failure.
func (p *e2ePerson) fatalf(format string, args ...any) {
	p.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		msg += "\n  page: " + loc
	}
	if body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`)); err == nil {
		if r := []rune(body); len(r) > 1500 {
			body = string(r[:1500]) + "…"
		}
		msg += "\n  text: " + strings.ReplaceAll(body, "\n", " | ")
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		f := filepath.Join(p.b.shots, "FAILED-"+strings.ToLower(p.name)+".png")
		if os.WriteFile(f, png, 0o644) == nil {
			msg += "\n  screenshot: " + f
		}
	}
	p.t.Fatalf("%s: %s", p.name, msg)
}

// step runs fn with a time limit, so a missing element fails fast with a
// message instead of hanging until the test's deadline.
func (p *e2ePerson) step(what string, fn func(ctx context.Context) error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, e2eStepTimeout)
	defer cancel()
	if err := fn(ctx); err != nil {
		p.fatalf("%s: %v", what, err)
	}
}

func (p *e2ePerson) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	p.step(what, func(ctx context.Context) error { return chromedp.Do(ctx, steps...) })
}

// e2eRun runs one action that returns a value.
func e2eRun[T any](p *e2ePerson, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	var v T
	p.step(what, func(ctx context.Context) error {
		var err error
		v, err = chromedp.Run(ctx, a)
		return err
	})
	return v
}

// e2eJS evaluates an expression in the page and decodes its result.
func e2eJS[T any](p *e2ePerson, expr string) T {
	p.t.Helper()
	return e2eRun(p, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// e2eQuote quotes s for use inside a JavaScript expression.
func e2eQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// open types a URL into the address bar, so to speak.
func (p *e2ePerson) open(rawURL string, wantStatus int) {
	p.t.Helper()
	resp := e2eRun(p, "open "+rawURL, chromedp.NavigateResponse(rawURL))
	if resp.Status != int64(wantStatus) {
		p.fatalf("open %s: status %d, want %d", rawURL, resp.Status, wantStatus)
	}
}

// click clicks what sel finds and waits for the page that follows (after
// any redirects), checking its status.
func (p *e2ePerson) click(sel string, wantStatus int) {
	p.t.Helper()
	var resp *network.Response
	p.step("click "+sel, func(ctx context.Context) error {
		var err error
		resp, err = chromedp.RunResponse(ctx, chromedp.Click(sel))
		return err
	})
	if resp.Status != int64(wantStatus) {
		p.fatalf("click %s: status %d, want %d", sel, resp.Status, wantStatus)
	}
}

// typeInto replaces the value of a text field by typing, key by key.
func (p *e2ePerson) typeInto(id, text string) {
	p.t.Helper()
	// chromedp's SetValue cannot set "" (it sends the empty argument as
	// undefined), so the field is emptied by script first.
	e2eJS[chromedp.Void](p, `document.getElementById(`+e2eQuote(id)+`).value = ""`)
	p.do("type into #"+id, chromedp.SendKeys(chromedp.ID(id), text))
}

// setField sets a value the way a picker would (date inputs take no
// reliable key strokes) and fires the events the page's script listens to.
func (p *e2ePerson) setField(id, value string) {
	p.t.Helper()
	got := e2eJS[string](p, `(function (el, v) {
		el.focus();
		el.value = v;
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
		return el.value;
	})(document.getElementById(`+e2eQuote(id)+`), `+e2eQuote(value)+`)`)
	if got != value {
		p.fatalf("set #%s to %q: the field holds %q", id, value, got)
	}
}

// waitFor polls a JavaScript condition, for what the page's script does
// after a fetch.
func (p *e2ePerson) waitFor(what, cond string) {
	p.t.Helper()
	p.do("wait until "+what, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(10*time.Second))(ctx, t)
		return err
	}))
}

func (p *e2ePerson) text(sel string) string {
	p.t.Helper()
	return strings.TrimSpace(e2eRun(p, "read the text of "+sel, chromedp.Text(sel)))
}

func (p *e2ePerson) value(id string) string {
	p.t.Helper()
	return e2eRun(p, "read the value of #"+id, chromedp.Value(chromedp.ID(id)))
}

// path is the current page's path with its query.
func (p *e2ePerson) path() string {
	p.t.Helper()
	loc := e2eRun(p, "read the location", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		p.fatalf("location %q: %v", loc, err)
	}
	return u.RequestURI()
}

func (p *e2ePerson) wantPath(want string) {
	p.t.Helper()
	if got := p.path(); got != want {
		p.fatalf("on %s, want %s", got, want)
	}
}

func (p *e2ePerson) wantText(sel, wantSub string) {
	p.t.Helper()
	if got := p.text(sel); !strings.Contains(got, wantSub) {
		p.fatalf("%s reads %q, want it to contain %q", sel, got, wantSub)
	}
}

// flash is the one-time message at the top of the page.
func (p *e2ePerson) flash() string {
	p.t.Helper()
	return e2eJS[string](p, `(document.querySelector("main .flash") || {textContent: ""}).textContent.trim()`)
}

func (p *e2ePerson) wantFlash(want string) {
	p.t.Helper()
	if got := p.flash(); got != want {
		p.fatalf("flash message %q, want %q", got, want)
	}
}

// screenshot saves the page as it is now, at phone and at desktop width,
// as name-phone.png and name-desktop.png (the whole page, not only the
// first screen). It does not reload: a page that answers a POST stays as
// it is.
func (p *e2ePerson) screenshot(name string) {
	p.t.Helper()
	for _, v := range []struct {
		suffix string
		phone  bool
	}{{"phone", true}, {"desktop", false}} {
		p.do("resize for "+name, p.viewport(v.phone))
		// Let the layout settle for the new width before capturing.
		p.do("wait for a frame", chromedp.Evaluate[chromedp.Void](
			`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r())))`, chromedp.EvalAwaitPromise))
		p.screenshotAsIs(name + "-" + v.suffix)
	}
	p.do("restore the viewport", p.viewport(p.phone))
}

// screenshotAsIs saves the whole page as it is displayed now, as name.png.
func (p *e2ePerson) screenshotAsIs(name string) {
	p.t.Helper()
	png := e2eRun(p, "screenshot "+name, chromedp.FullScreenshot(100))
	file := filepath.Join(p.b.shots, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		p.t.Fatalf("save %s: %v", file, err)
	}
	p.b.mu.Lock()
	p.b.saved = append(p.b.saved, file)
	p.b.mu.Unlock()
}

// nav follows a link of the main menu; on a phone it opens the menu first,
// as a person would.
func (p *e2ePerson) nav(href string, wantStatus int) {
	p.t.Helper()
	if p.phone {
		p.do("open the menu", chromedp.Click(`//header//details[contains(@class,"nav-phone")]/summary`))
		p.click(`//header//details[contains(@class,"nav-phone")]//a[@href="`+href+`"]`, wantStatus)
		return
	}
	p.click(`//header//nav[contains(@class,"nav-wide")]//a[@href="`+href+`"]`, wantStatus)
}

// logOut presses the menu's log-out button.
func (p *e2ePerson) logOut(wantStatus int) {
	p.t.Helper()
	if p.phone {
		p.do("open the menu", chromedp.Click(`//header//details[contains(@class,"nav-phone")]/summary`))
		p.click(`//header//details[contains(@class,"nav-phone")]//form[@action="/logout"]/button`, wantStatus)
		return
	}
	p.click(`//header//nav[contains(@class,"nav-wide")]//form[@action="/logout"]/button`, wantStatus)
}
