package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"booking/store"
)

// showHome sends members to the calendar and everyone else to the login.
func (a *app) showHome(w http.ResponseWriter, r *http.Request) error {
	if currentUser(r) != nil {
		http.Redirect(w, r, "/calendar", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

type loginPage struct {
	base
	Email            string
	Next             string
	Error            string
	SelfRegistration bool
}

func (a *app) showLogin(w http.ResponseWriter, r *http.Request) error {
	if currentUser(r) != nil {
		http.Redirect(w, r, localRedirect(r.URL.Query().Get("next"), "/calendar"), http.StatusSeeOther)
		return nil
	}
	// The form carries next only when it is a path here: the post checks it
	// again, but a foreign URL has no business in the page either.
	return a.render(w, r, http.StatusOK, "login", &loginPage{Next: localRedirect(r.URL.Query().Get("next"), ""), SelfRegistration: a.store.Settings().SelfRegistration})
}

func (a *app) login(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	next := r.PostForm.Get("next")
	u, err := a.store.Authenticate(r.Context(), email, r.PostForm.Get("password"))
	if errors.Is(err, store.ErrBadCredentials) {
		a.metrics.failedLogins.Inc()
		// A stable line for fail2ban: the client's address, never the
		// password; the email is what was typed (it may not exist).
		a.log.Warn("login failed", "ip", a.clientIP(r), "request_id", info(r).id)
		p := &loginPage{Email: email, Next: localRedirect(next, ""), SelfRegistration: a.store.Settings().SelfRegistration}
		p.Error = tr{chooseLanguage(r, nil)}.T("err.bad_credentials")
		return a.render(w, r, http.StatusUnprocessableEntity, "login", p)
	}
	if err != nil {
		return err
	}
	return a.logIn(w, r, u, "", localRedirect(next, "/calendar"))
}

// logIn starts a session for u with a fresh token, so a token planted
// before the login (session fixation) is worthless, and redirects to the
// next page with an optional flash message.
func (a *app) logIn(w http.ResponseWriter, r *http.Request, u *store.User, flash, next string) error {
	if err := a.sessions.RenewToken(r.Context()); err != nil {
		return err
	}
	a.sessions.Put(r.Context(), sessUserID, u.ID)
	a.sessions.Put(r.Context(), sessRole, u.Role)
	a.seeOther(w, r, next, flash)
	return nil
}

// logout deletes the session. The goodbye travels in a cookie (seeOther):
// a new session for it would store a row for every anonymous post here.
func (a *app) logout(w http.ResponseWriter, r *http.Request) error {
	if currentUser(r) == nil && a.sessions.Token(r.Context()) == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	}
	if err := a.sessions.Destroy(r.Context()); err != nil {
		return err
	}
	a.seeOther(w, r, "/login", "flash.logged_out")
	return nil
}

// setLanguage switches the language: in the profile of a logged-in user,
// in a cookie for everyone else.
func (a *app) setLanguage(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	lang := r.PostForm.Get("lang")
	if lang != langDE && lang != langEN {
		return refuse(http.StatusBadRequest, "err.bad_request")
	}
	if u := currentUser(r); u != nil {
		if err := a.store.UpdateProfile(r.Context(), u.ID, u.Name, lang); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, localRedirect(r.PostForm.Get("next"), "/"), http.StatusSeeOther)
	return nil
}

// accountPage is the form for setting up an account: the first
// administrator, an invited member, a self-registration, a reset.
type accountPage struct {
	base
	Kind    string // setup, invite, register, reset
	Action  string
	Name    string
	Email   string
	Fixed   bool // name and email are given by the invitation
	Errors  fieldErrors
	Expired bool
}

// accountForm is what differs between the account forms; submitAccount is
// the flow they share.
type accountForm struct {
	page *accountPage
	t    tr
	// save creates the account or sets its password; a validation error
	// shows the form again.
	save func(password string) (*store.User, error)
	// After saving, the member is logged in and sent to next with a flash.
	flash, next string
}

// submitAccount checks that both passwords match, saves, and logs the
// member in; a refused form comes back with each problem at its field.
func (a *app) submitAccount(w http.ResponseWriter, r *http.Request, f accountForm) error {
	fe := passwordsMatch(f.t, r)
	if len(fe) == 0 {
		u, err := f.save(r.PostForm.Get("password"))
		if err == nil {
			return a.logIn(w, r, u, f.flash, f.next)
		}
		if fe, err = problemsOf(f.t, err, fe); err != nil {
			return err
		}
	}
	f.page.Errors = fe
	return a.render(w, r, http.StatusUnprocessableEntity, "account", f.page)
}

// newAccountPage is the form for a new account, with what was typed.
func newAccountPage(r *http.Request, kind, action string) *accountPage {
	return &accountPage{Kind: kind, Action: action, Name: r.PostForm.Get("name"), Email: r.PostForm.Get("email")}
}

func (a *app) showSetup(w http.ResponseWriter, r *http.Request) error {
	token := mux.Vars(r)["token"]
	if err := a.store.CheckSetupToken(r.Context(), token); err != nil {
		return err
	}
	return a.render(w, r, http.StatusOK, "account", &accountPage{Kind: "setup", Action: "/setup/" + token})
}

func (a *app) completeSetup(w http.ResponseWriter, r *http.Request) error {
	token := mux.Vars(r)["token"]
	if err := parseForm(r); err != nil {
		return err
	}
	p := newAccountPage(r, "setup", "/setup/"+token)
	lang := chooseLanguage(r, nil)
	return a.submitAccount(w, r, accountForm{page: p, t: tr{lang}, flash: "flash.setup_done", next: "/admin/accommodations",
		save: func(password string) (*store.User, error) {
			u, err := a.store.CompleteSetup(r.Context(), token, store.NewUser{Name: p.Name, Email: p.Email, Password: password, Language: lang})
			if err == nil {
				a.log.Info("first administrator created", "user_id", u.ID)
			}
			return u, err
		}})
}

// passwordsMatch checks the confirmation field; the length is the store's.
func passwordsMatch(t tr, r *http.Request) fieldErrors {
	fe := fieldErrors{}
	if r.PostForm.Get("password") != r.PostForm.Get("password2") {
		fe["password2"] = t.T("err.password_mismatch")
	}
	return fe
}

func (a *app) showInvitation(w http.ResponseWriter, r *http.Request) error {
	return a.showLinkForm(w, r, store.PurposeInvite)
}

func (a *app) showReset(w http.ResponseWriter, r *http.Request) error {
	return a.showLinkForm(w, r, store.PurposeReset)
}

// linkPage is the form behind an invitation or reset link, for the member
// the link was made for.
func (a *app) linkPage(r *http.Request, purpose string) (*accountPage, *store.User, error) {
	token := mux.Vars(r)["token"]
	u, err := a.store.TokenUser(r.Context(), token, purpose)
	if err != nil {
		return nil, nil, err
	}
	return &accountPage{Kind: purpose, Action: "/" + purpose + "/" + token, Name: u.Name, Email: u.Email, Fixed: true}, u, nil
}

func (a *app) showLinkForm(w http.ResponseWriter, r *http.Request, purpose string) error {
	p, _, err := a.linkPage(r, purpose)
	if err != nil {
		return err
	}
	return a.render(w, r, http.StatusOK, "account", p)
}

func (a *app) acceptInvitation(w http.ResponseWriter, r *http.Request) error {
	return a.useLink(w, r, store.PurposeInvite)
}

func (a *app) resetPassword(w http.ResponseWriter, r *http.Request) error {
	return a.useLink(w, r, store.PurposeReset)
}

// useLink sets the password through an invitation or reset link and logs
// the member in.
func (a *app) useLink(w http.ResponseWriter, r *http.Request, purpose string) error {
	if err := parseForm(r); err != nil {
		return err
	}
	p, owner, err := a.linkPage(r, purpose)
	if err != nil {
		return err
	}
	return a.submitAccount(w, r, accountForm{page: p, t: tr{chooseLanguage(r, owner)}, flash: "flash.welcome", next: "/calendar",
		save: func(password string) (*store.User, error) {
			return a.store.UseLink(r.Context(), mux.Vars(r)["token"], purpose, password)
		}})
}

func (a *app) showRegister(w http.ResponseWriter, r *http.Request) error {
	if !a.store.Settings().SelfRegistration {
		return refuse(http.StatusNotFound, "err.registration_closed")
	}
	open, err := a.store.RegistrationOpen(r.Context())
	if err != nil {
		return err
	}
	if !open {
		return store.ErrRegistrationsFull
	}
	return a.render(w, r, http.StatusOK, "account", &accountPage{Kind: "register", Action: "/register"})
}

// register creates an account that waits for approval. It answers the
// same for an address that has an account (the owner keeps their
// password, and with mail on the store tells them by mail): a redirect
// to the login page with one message, and no session either way. Every
// registration counts against the client's attempts.
func (a *app) register(w http.ResponseWriter, r *http.Request) error {
	if !a.store.Settings().SelfRegistration {
		return refuse(http.StatusNotFound, "err.registration_closed")
	}
	if err := parseForm(r); err != nil {
		return err
	}
	p := newAccountPage(r, "register", "/register")
	t := tr{chooseLanguage(r, nil)}
	fe := passwordsMatch(t, r)
	if len(fe) == 0 {
		_, err := a.store.Register(r.Context(), store.NewUser{Name: p.Name, Email: p.Email, Password: r.PostForm.Get("password"), Language: t.lang})
		if errors.Is(err, store.ErrAccountExists) {
			a.log.Info("registration for an address that has an account", "ip", a.clientIP(r), "request_id", info(r).id)
			err = nil
		}
		if err == nil {
			chargeAttempt(r)
			a.seeOther(w, r, "/login", "flash.registered")
			return nil
		}
		if fe, err = problemsOf(t, err, fe); err != nil {
			return err
		}
	}
	p.Errors = fe
	return a.render(w, r, http.StatusUnprocessableEntity, "account", p)
}

type profilePage struct {
	base
	Name      string
	Language  string
	Errors    fieldErrors
	PwdErrors fieldErrors
	Extras    profileExtras // mail and calendar feeds, see mail.go
}

func (a *app) showProfile(w http.ResponseWriter, r *http.Request) error {
	u := currentUser(r)
	return a.renderProfile(w, r, http.StatusOK, &profilePage{Name: u.Name, Language: u.Language})
}

// renderProfile shows the profile with its mail and feed sections.
func (a *app) renderProfile(w http.ResponseWriter, r *http.Request, status int, p *profilePage) error {
	if err := a.fillProfileExtras(r, &p.Extras); err != nil {
		return err
	}
	return a.render(w, r, status, "profile", p)
}

func (a *app) updateProfile(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	u := currentUser(r)
	p := &profilePage{Name: r.PostForm.Get("name"), Language: r.PostForm.Get("language")}
	err := a.store.UpdateProfile(r.Context(), u.ID, p.Name, p.Language)
	if err == nil {
		a.seeOther(w, r, "/profile", "flash.saved")
		return nil
	}
	if p.Errors, err = problemsOf(tr{chooseLanguage(r, u)}, err, nil); err != nil {
		return err
	}
	return a.renderProfile(w, r, http.StatusUnprocessableEntity, p)
}

// changePassword needs the current password, so a phone left unlocked
// cannot be used to take the account over.
func (a *app) changePassword(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	u := currentUser(r)
	t := tr{chooseLanguage(r, u)}
	p := &profilePage{Name: u.Name, Language: u.Language}
	fe := passwordsMatch(t, r)
	if _, err := a.store.Authenticate(r.Context(), u.Email, r.PostForm.Get("current")); err != nil {
		if !errors.Is(err, store.ErrBadCredentials) {
			return err
		}
		a.metrics.failedLogins.Inc()
		a.log.Warn("login failed", "ip", a.clientIP(r), "request_id", info(r).id)
		fe["current"] = t.T("err.wrong_password")
	}
	if len(fe) == 0 {
		err := a.store.SetPassword(r.Context(), u.ID, r.PostForm.Get("password"))
		if err == nil {
			if err := a.sessions.RenewToken(r.Context()); err != nil {
				return err
			}
			a.seeOther(w, r, "/profile", "flash.password_changed")
			return nil
		}
		if fe, err = problemsOf(t, err, fe); err != nil {
			return err
		}
	}
	p.PwdErrors = fe
	return a.renderProfile(w, r, http.StatusUnprocessableEntity, p)
}
