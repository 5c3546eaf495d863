package handlers

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"booking/mailer"
	"booking/store"
)

// MailWords are the catalogue's texts and formats in lang, for the mails
// the sender writes: a mail says things the way the pages do.
func MailWords(lang string) mailer.Words {
	if lang != langEN {
		lang = langDE
	}
	return tr{lang}
}

// mailOn tells whether mail can be sent; without an SMTP server the pages
// say that mail is off and offer the links to copy instead.
func (a *app) mailOn() bool { return a.mail.MailSettings().Enabled }

type forgotPage struct {
	base
	MailOn bool
	Sent   bool
	Email  string
}

func (a *app) showForgot(w http.ResponseWriter, r *http.Request) error {
	return a.render(w, r, http.StatusOK, "forgot", &forgotPage{MailOn: a.mailOn()})
}

// requestReset mails a reset link if the address has an account, and
// answers the same either way. It runs under the login forms' limit, and
// every request counts against it, found or not: the answer must not tell,
// so neither may the limit. (The store sends one account at most one such
// mail every few minutes.)
func (a *app) requestReset(w http.ResponseWriter, r *http.Request) error {
	if !a.mailOn() {
		return refuse(http.StatusNotFound, "err.not_found")
	}
	chargeAttempt(r)
	if err := parseForm(r); err != nil {
		return err
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if err := a.store.RequestPasswordReset(r.Context(), email); err != nil {
		return err
	}
	a.log.Info("password reset asked for", "ip", a.clientIP(r), "request_id", info(r).id)
	return a.render(w, r, http.StatusOK, "forgot", &forgotPage{MailOn: true, Sent: true, Email: email})
}

// profileExtras are the mail and calendar sections of the profile.
type profileExtras struct {
	MailOn      bool
	MailChoices []mailChoice
	FeedMine    feedLink
	FeedHouse   feedLink
	HasFeeds    bool
}

type mailChoice struct {
	Kind string
	On   bool
}

// feedLink is one feed's address: https (or http) to copy, webcal to
// open in a calendar app. (html/template lets only http, https and mailto
// through as they are; this address is ours.)
type feedLink struct {
	URL    string
	Webcal template.URL
}

// Feeds are the two feeds with their titles, for the template.
func (x profileExtras) Feeds() []struct {
	Title string
	Link  feedLink
} {
	return []struct {
		Title string
		Link  feedLink
	}{{"feed.mine", x.FeedMine}, {"feed.house", x.FeedHouse}}
}

// fillProfileExtras adds the mail and feed sections to a profile page.
func (a *app) fillProfileExtras(r *http.Request, x *profileExtras) error {
	u := currentUser(r)
	x.MailOn = a.mailOn()
	off, err := a.store.MailOptOuts(r.Context(), u.ID)
	if err != nil {
		return err
	}
	for _, k := range store.OptionalMailKinds(u) {
		x.MailChoices = append(x.MailChoices, mailChoice{Kind: k, On: !off[k]})
	}
	token, err := a.store.FeedToken(r.Context(), u.ID)
	if err != nil || token == "" {
		return err
	}
	x.HasFeeds = true
	x.FeedMine, x.FeedHouse = a.feedLink(r, token, feedMine), a.feedLink(r, token, feedHouse)
	return nil
}

func (a *app) feedLink(r *http.Request, token, kind string) feedLink {
	u := a.origin(r) + "/feeds/" + url.PathEscape(token) + "/" + kind + ".ics"
	_, rest, _ := strings.Cut(u, "://")
	return feedLink{URL: u, Webcal: template.URL("webcal://" + rest)}
}

// saveMailChoices stores which kinds of mail the member wants: the form
// lists every kind as a checkbox, and an unticked one is turned off.
func (a *app) saveMailChoices(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	u := currentUser(r)
	var off []string
	for _, k := range store.OptionalMailKinds(u) {
		if r.PostForm.Get("mail."+k) != "1" {
			off = append(off, k)
		}
	}
	if err := a.store.SetMailOptOuts(r.Context(), u, off); err != nil {
		return err
	}
	a.seeOther(w, r, "/profile#mail", "flash.saved")
	return nil
}

// newFeedLink makes (or replaces) the secret of the member's feeds.
func (a *app) newFeedLink(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.store.NewFeedToken(r.Context(), currentUser(r).ID); err != nil {
		return err
	}
	a.seeOther(w, r, "/profile#feeds", "flash.feed_link")
	return nil
}

// mailSection is the settings page's part about mail and feeds.
type mailSection struct {
	Settings mailer.Settings
	// NoBaseURL: the server runs without -base-url, so links in mails
	// point at localhost.
	NoBaseURL             bool
	Outbox                []outboxRow
	TestTo                string
	Errors                fieldErrors
	HouseFeedOccupiedOnly bool
}

type outboxRow struct {
	*store.Mail
	CanSendAgain bool
}

// outboxShown is how many of the newest mails the settings page lists.
const outboxShown = 50

func (a *app) fillMailSection(r *http.Request, m *mailSection) error {
	m.Settings = a.mail.MailSettings()
	m.NoBaseURL = m.Settings.Enabled && a.baseURL == ""
	m.HouseFeedOccupiedOnly = a.store.Settings().HouseFeedOccupiedOnly
	if m.TestTo == "" {
		m.TestTo = currentUser(r).Email
	}
	ms, err := a.store.Outbox(r.Context(), outboxShown)
	if err != nil {
		return err
	}
	now := a.store.Now()
	for _, mail := range ms {
		m.Outbox = append(m.Outbox, outboxRow{Mail: mail, CanSendAgain: m.Settings.Enabled && mail.CanSendAgain(now)})
	}
	return nil
}

// renderSettings shows the settings page with its mail section.
func (a *app) renderSettings(w http.ResponseWriter, r *http.Request, status int, p *settingsPage) error {
	if p.Mail == nil {
		p.Mail = &mailSection{}
	}
	if err := a.fillMailSection(r, p.Mail); err != nil {
		return err
	}
	return a.render(w, r, status, "settings", p)
}

// sendTestMail queues a test mail; the outbox list shows what became of it.
func (a *app) sendTestMail(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	u := currentUser(r)
	to := r.PostForm.Get("to")
	err := a.store.QueueTestMail(r.Context(), u, to)
	if err == nil {
		a.seeOther(w, r, "/admin/settings#mail", "flash.test_mail")
		return nil
	}
	fe, err := problemsOf(tr{chooseLanguage(r, u)}, err, nil)
	if err != nil {
		return err
	}
	return a.renderSettings(w, r, http.StatusUnprocessableEntity, &settingsPage{Form: currentSettingsForm(a.store.Settings()),
		Mail: &mailSection{TestTo: to, Errors: fe}})
}

func (a *app) sendMailAgain(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	if err := a.store.SendMailAgain(r.Context(), currentUser(r), id); err != nil {
		return err
	}
	a.mail.Wake()
	a.seeOther(w, r, "/admin/settings#mail", "flash.mail_again")
	return nil
}

func (a *app) setHouseFeedPrivacy(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	if err := a.store.SetHouseFeedOccupiedOnly(r.Context(), currentUser(r), r.PostForm.Get("occupied_only") == "1"); err != nil {
		return err
	}
	a.seeOther(w, r, "/admin/settings#feeds", "flash.saved")
	return nil
}
