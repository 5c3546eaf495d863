package handlers

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routes is the one place where URLs meet handlers. The chains say what
// they guard: public pages have a session (to know who is there), member
// pages need an approved account, admin pages an administrator; forms that
// check passwords or links are rate limited per client.
func (a *app) routes() http.Handler {
	r := mux.NewRouter()
	r.Use(routeName)
	r.NotFoundHandler = a.withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.showError(w, r, http.StatusNotFound, "err.not_found")
	}))
	r.MethodNotAllowedHandler = a.withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.showError(w, r, http.StatusMethodNotAllowed, "err.method")
	}))

	public := func(h handlerFunc) http.Handler { return a.withSession(a.errorHandler(h)) }
	guarded := func(h handlerFunc) http.Handler { return a.limitPosts(public(h)) }
	member := func(h handlerFunc) http.Handler { return a.withSession(a.requireMember(a.errorHandler(h))) }
	guardedMember := func(h handlerFunc) http.Handler { return a.limitPosts(member(h)) }
	admin := func(h handlerFunc) http.Handler { return a.withSession(a.requireAdmin(a.errorHandler(h))) }
	const get, post = http.MethodGet, http.MethodPost

	// Machines.
	r.HandleFunc("/health", a.showHealth).Methods(get, http.MethodHead)
	r.HandleFunc("/health/detailed", a.showHealthDetailed).Methods(get)
	r.HandleFunc("/health/memory", a.showHealthMemory).Methods(get)
	r.HandleFunc("/health/database", a.showHealthDatabase).Methods(get)
	r.Handle("/metrics", a.metricsHandler()).Methods(get)
	r.PathPrefix("/static/").Handler(a.assets).Methods(get, http.MethodHead)
	r.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, a.assets.url("icon.svg"), http.StatusMovedPermanently)
	}).Methods(get)

	// Getting in.
	r.Handle("/", public(a.showHome)).Methods(get)
	r.Handle("/login", public(a.showLogin)).Methods(get)
	r.Handle("/login", guarded(a.login)).Methods(post)
	r.Handle("/logout", public(a.logout)).Methods(post)
	r.Handle("/language", public(a.setLanguage)).Methods(post)
	r.Handle("/setup/{token}", public(a.showSetup)).Methods(get)
	r.Handle("/setup/{token}", guarded(a.completeSetup)).Methods(post)
	r.Handle("/invite/{token}", public(a.showInvitation)).Methods(get)
	r.Handle("/invite/{token}", guarded(a.acceptInvitation)).Methods(post)
	r.Handle("/reset/{token}", public(a.showReset)).Methods(get)
	r.Handle("/reset/{token}", guarded(a.resetPassword)).Methods(post)
	r.Handle("/register", public(a.showRegister)).Methods(get)
	r.Handle("/register", guarded(a.register)).Methods(post)
	r.Handle("/forgot", public(a.showForgot)).Methods(get)
	r.Handle("/forgot", guarded(a.requestReset)).Methods(post)
	// Calendar apps cannot log in: the secret in the address is the key.
	r.HandleFunc("/feeds/{token}/{feed:mine|house}.ics", a.serveFeed).Methods(get, http.MethodHead)

	// Family members.
	r.Handle("/calendar", member(a.showCalendar)).Methods(get)
	r.Handle("/availability", member(a.showAvailability)).Methods(get)
	r.Handle("/availability.json", member(a.availabilityJSON)).Methods(get)
	r.Handle("/bookings", member(a.showMyBookings)).Methods(get)
	r.Handle("/bookings/new", member(a.showNewBooking)).Methods(get)
	r.Handle("/bookings", member(a.createBooking)).Methods(post)
	r.Handle("/bookings/{id:[0-9]+}", member(a.showBooking)).Methods(get)
	r.Handle("/bookings/{id:[0-9]+}/edit", member(a.showEditBooking)).Methods(get)
	r.Handle("/bookings/{id:[0-9]+}/edit", member(a.updateBooking)).Methods(post)
	r.Handle("/bookings/{id:[0-9]+}/cancel", member(a.showCancelBooking)).Methods(get)
	r.Handle("/bookings/{id:[0-9]+}/cancel", member(a.cancelBooking)).Methods(post)
	r.Handle("/profile", member(a.showProfile)).Methods(get)
	r.Handle("/profile", member(a.updateProfile)).Methods(post)
	r.Handle("/profile/password", guardedMember(a.changePassword)).Methods(post)
	r.Handle("/profile/mail", member(a.saveMailChoices)).Methods(post)
	r.Handle("/profile/feeds", member(a.newFeedLink)).Methods(post)

	// Administration.
	r.Handle("/admin", admin(a.showDashboard)).Methods(get)
	r.Handle("/bookings/{id:[0-9]+}/accept", admin(a.acceptBooking)).Methods(post)
	r.Handle("/bookings/{id:[0-9]+}/reject", admin(a.rejectBooking)).Methods(post)
	r.Handle("/admin/bookings", admin(a.showAllBookings)).Methods(get)
	r.Handle("/admin/members", admin(a.showMembers)).Methods(get)
	r.Handle("/admin/members", admin(a.inviteMember)).Methods(post)
	r.Handle("/admin/members/{id:[0-9]+}/state", admin(a.setMemberState)).Methods(post)
	r.Handle("/admin/members/{id:[0-9]+}/role", admin(a.setMemberRole)).Methods(post)
	r.Handle("/admin/members/{id:[0-9]+}/link", admin(a.createMemberLink)).Methods(post)
	r.Handle("/admin/accommodations", admin(a.showAccommodations)).Methods(get)
	r.Handle("/admin/accommodations/new", admin(a.showNewAccommodation)).Methods(get)
	r.Handle("/admin/accommodations", admin(a.createAccommodation)).Methods(post)
	r.Handle("/admin/accommodations/{id:[0-9]+}/edit", admin(a.showEditAccommodation)).Methods(get)
	r.Handle("/admin/accommodations/{id:[0-9]+}/edit", admin(a.updateAccommodation)).Methods(post)
	r.Handle("/admin/accommodations/{id:[0-9]+}/active", admin(a.setAccommodationActive)).Methods(post)
	r.Handle("/admin/settings", admin(a.showSettings)).Methods(get)
	r.Handle("/admin/settings", admin(a.updateSettings)).Methods(post)
	r.Handle("/admin/settings/mail/test", admin(a.sendTestMail)).Methods(post)
	r.Handle("/admin/settings/mail/{id:[0-9]+}/again", admin(a.sendMailAgain)).Methods(post)
	r.Handle("/admin/settings/feeds", admin(a.setHouseFeedPrivacy)).Methods(post)
	r.Handle("/admin/backups", admin(a.showBackups)).Methods(get)

	// CrossOriginProtection refuses cross-site form posts (CSRF) by the
	// browser's Sec-Fetch-Site/Origin headers: no tokens in forms.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(a.withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.showError(w, r, http.StatusForbidden, "err.cross_origin")
	})))
	return a.observe(secureHeaders(limitBody(cop.Handler(r))))
}
