package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"booking/backup"
	"booking/store"
)

type dashboardPage struct {
	base
	Pending  []*store.Booking
	Waiting  []*store.User
	Upcoming []*store.Booking
}

// showDashboard is what an administrator has to do: bookings and members
// waiting for a decision, and who is coming in the next two weeks.
func (a *app) showDashboard(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	pending, err := a.store.Bookings(ctx, store.BookingFilter{Status: store.StatusPending})
	if err != nil {
		return err
	}
	users, err := a.store.Users(ctx)
	if err != nil {
		return err
	}
	p := &dashboardPage{Pending: pending}
	for _, u := range users {
		if u.State == store.StateRegistered || u.State == store.StateVerified {
			p.Waiting = append(p.Waiting, u)
		}
	}
	today := a.store.Today()
	upcoming, err := a.store.BookingsOverlapping(ctx, today, today.AddDays(14))
	if err != nil {
		return err
	}
	p.Upcoming = upcoming
	return a.render(w, r, http.StatusOK, "dashboard", p)
}

// pendingCount is the number shown beside "Verwaltung" in the menu; it is
// cached until the data changes.
func (a *app) pendingCount(r *http.Request) int {
	n, version, ok := a.pending.get(struct{}{})
	if ok {
		return n
	}
	counts, err := a.store.CountBookingsByStatus(r.Context())
	if err != nil {
		return 0
	}
	a.pending.put(version, struct{}{}, counts[store.StatusPending])
	return counts[store.StatusPending]
}

type membersPage struct {
	base
	Users  []*store.User
	Form   inviteForm
	Errors fieldErrors
	// Link is a freshly made invitation or reset link to pass on.
	Link        string
	LinkFor     *store.User
	LinkPurpose string
	Roles       []string
	// MailOn offers invitations by mail; Mailed says the link went out.
	MailOn bool
	Mailed bool
}

type inviteForm struct{ Name, Email, Role string }

// fillMembers adds the list of members to the page.
func (a *app) fillMembers(r *http.Request, p *membersPage) error {
	users, err := a.store.Users(r.Context())
	p.Users = users
	p.Roles = []string{store.RoleMember, store.RoleAdmin}
	p.MailOn = a.mailOn()
	if p.Form.Role == "" {
		p.Form.Role = store.RoleMember
	}
	return err
}

func (a *app) showMembers(w http.ResponseWriter, r *http.Request) error {
	p := &membersPage{}
	if err := a.fillMembers(r, p); err != nil {
		return err
	}
	return a.render(w, r, http.StatusOK, "members", p)
}

// linkURL is the absolute link to share, built from the request's host so it
// works whatever name the family uses for the Pi.
func (a *app) linkURL(r *http.Request, path string) string {
	scheme := "http"
	if a.isHTTPS(r) {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host, Path: path}).String()
}

func (a *app) inviteMember(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	u := currentUser(r)
	p := &membersPage{Form: inviteForm{Name: r.PostForm.Get("name"), Email: r.PostForm.Get("email"), Role: r.PostForm.Get("role")}}
	in := store.NewUser{Name: p.Form.Name, Email: p.Form.Email, Role: p.Form.Role}
	invite := a.store.Invite
	if p.Mailed = a.mailOn() && r.PostForm.Get("send_mail") == "1"; p.Mailed {
		invite = a.store.InviteByMail
	}
	token, invited, err := invite(r.Context(), u, in)
	status := http.StatusOK
	if err == nil {
		p.Link, p.LinkFor, p.LinkPurpose = a.linkURL(r, "/invite/"+token), invited, store.PurposeInvite
		p.Form = inviteForm{}
	} else {
		if p.Errors, err = problemsOf(tr{chooseLanguage(r, u)}, err, nil); err != nil {
			return err
		}
		status = http.StatusUnprocessableEntity
		p.Mailed = false
	}
	if err := a.fillMembers(r, p); err != nil {
		return err
	}
	return a.render(w, r, status, "members", p)
}

func (a *app) setMemberState(w http.ResponseWriter, r *http.Request) error {
	id, err := idAndForm(r)
	if err != nil {
		return err
	}
	if err := a.store.SetUserState(r.Context(), currentUser(r), id, r.PostForm.Get("state")); err != nil {
		return err
	}
	a.redirectBack(w, r, "/admin/members", "flash.saved")
	return nil
}

func (a *app) setMemberRole(w http.ResponseWriter, r *http.Request) error {
	id, err := idAndForm(r)
	if err != nil {
		return err
	}
	if err := a.store.SetUserRole(r.Context(), currentUser(r), id, r.PostForm.Get("role")); err != nil {
		return err
	}
	a.seeOther(w, r, "/admin/members", "flash.saved")
	return nil
}

// createMemberLink makes a new invitation link (for an invited member) or a
// password reset link (for everyone else) and shows it once.
func (a *app) createMemberLink(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	target, err := a.store.User(r.Context(), id)
	if err != nil {
		return err
	}
	purpose := store.PurposeReset
	if target.State == store.StateInvited {
		purpose = store.PurposeInvite
	}
	var token string
	mailed := purpose == store.PurposeInvite && a.mailOn() && r.PostFormValue("send_mail") == "1"
	switch {
	case mailed:
		token, err = a.store.RenewInvitationByMail(r.Context(), currentUser(r), id)
	case purpose == store.PurposeInvite:
		token, err = a.store.RenewInvitation(r.Context(), currentUser(r), id)
	default:
		token, err = a.store.NewResetLink(r.Context(), currentUser(r), id)
	}
	if err != nil {
		return err
	}
	p := &membersPage{Link: a.linkURL(r, "/"+purpose+"/"+token), LinkFor: target, LinkPurpose: purpose, Mailed: mailed}
	if err := a.fillMembers(r, p); err != nil {
		return err
	}
	return a.render(w, r, http.StatusOK, "members", p)
}

type accommodationsPage struct {
	base
	Accommodations []*store.Accommodation
}

func (a *app) showAccommodations(w http.ResponseWriter, r *http.Request) error {
	accs, err := a.store.Accommodations(r.Context(), true)
	if err != nil {
		return err
	}
	return a.render(w, r, http.StatusOK, "accommodations", &accommodationsPage{Accommodations: accs})
}

type accommodationFormPage struct {
	base
	ID     int64
	Form   accommodationForm
	Kinds  []string
	Errors fieldErrors
}

type accommodationForm struct{ Name, Kind, Beds, SortOrder, Description string }

func (a *app) showNewAccommodation(w http.ResponseWriter, r *http.Request) error {
	return a.render(w, r, http.StatusOK, "accommodation_form", &accommodationFormPage{Kinds: store.AccommodationKinds,
		Form: accommodationForm{Kind: "room", Beds: "2", SortOrder: "0"}})
}

func (a *app) showEditAccommodation(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	acc, err := a.store.Accommodation(r.Context(), id)
	if err != nil {
		return err
	}
	return a.render(w, r, http.StatusOK, "accommodation_form", &accommodationFormPage{ID: id, Kinds: store.AccommodationKinds,
		Form: accommodationForm{Name: acc.Name, Kind: acc.Kind, Beds: strconv.Itoa(acc.Beds), SortOrder: strconv.Itoa(acc.SortOrder), Description: acc.Description}})
}

// parseAccommodationForm reads the numbers; the store checks the rest.
func parseAccommodationForm(t tr, r *http.Request) (accommodationForm, store.AccommodationInput, fieldErrors) {
	f := accommodationForm{Name: r.PostForm.Get("name"), Kind: r.PostForm.Get("kind"), Beds: strings.TrimSpace(r.PostForm.Get("beds")),
		SortOrder: strings.TrimSpace(r.PostForm.Get("sort_order")), Description: r.PostForm.Get("description")}
	in := store.AccommodationInput{Name: f.Name, Kind: f.Kind, Description: f.Description}
	fe := fieldErrors{}
	var err error
	if in.Beds, err = strconv.Atoi(f.Beds); err != nil {
		fe["beds"] = t.T("err.beds_range", store.MinBeds, store.MaxBeds)
	}
	if f.SortOrder != "" {
		if in.SortOrder, err = strconv.Atoi(f.SortOrder); err != nil || in.SortOrder < -1000 || in.SortOrder > 1000 {
			fe["sort_order"] = t.T("err.sort_order")
		}
	}
	return f, in, fe
}

func (a *app) createAccommodation(w http.ResponseWriter, r *http.Request) error {
	return a.saveAccommodation(w, r, 0)
}

func (a *app) updateAccommodation(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	return a.saveAccommodation(w, r, id)
}

func (a *app) saveAccommodation(w http.ResponseWriter, r *http.Request, id int64) error {
	if err := parseForm(r); err != nil {
		return err
	}
	u := currentUser(r)
	t := tr{chooseLanguage(r, u)}
	form, in, fe := parseAccommodationForm(t, r)
	if len(fe) == 0 {
		var err error
		if id == 0 {
			_, err = a.store.CreateAccommodation(r.Context(), u, in)
		} else {
			err = a.store.UpdateAccommodation(r.Context(), u, id, in)
		}
		if err == nil {
			a.seeOther(w, r, "/admin/accommodations", "flash.saved")
			return nil
		}
		if fe, err = problemsOf(t, err, fe); err != nil {
			return err
		}
	}
	return a.render(w, r, http.StatusUnprocessableEntity, "accommodation_form", &accommodationFormPage{ID: id, Form: form, Kinds: store.AccommodationKinds, Errors: fe})
}

func (a *app) setAccommodationActive(w http.ResponseWriter, r *http.Request) error {
	id, err := idAndForm(r)
	if err != nil {
		return err
	}
	if err := a.store.SetAccommodationActive(r.Context(), currentUser(r), id, r.PostForm.Get("active") == "1"); err != nil {
		return err
	}
	a.seeOther(w, r, "/admin/accommodations", "flash.saved")
	return nil
}

type settingsPage struct {
	base
	Form   settingsForm
	Errors fieldErrors
	Mail   *mailSection // mail and calendar feeds, see mail.go
}

type settingsForm struct {
	HouseName, TimeZone, MaxNights  string
	HorizonMonths, MaxPendingNights string
	MaxWaitingAccounts              string
	SelfRegistration                bool
}

func (a *app) showSettings(w http.ResponseWriter, r *http.Request) error {
	s := a.store.Settings()
	return a.renderSettings(w, r, http.StatusOK, &settingsPage{Form: currentSettingsForm(s)})
}

// currentSettingsForm is the settings form filled with the settings as they
// are.
func currentSettingsForm(s *store.Settings) settingsForm {
	return settingsForm{HouseName: s.HouseName, TimeZone: s.TimeZone,
		MaxNights: strconv.Itoa(s.MaxNights), SelfRegistration: s.SelfRegistration,
		HorizonMonths: strconv.Itoa(s.HorizonMonths), MaxPendingNights: strconv.Itoa(s.MaxPendingBedNights),
		MaxWaitingAccounts: strconv.Itoa(s.MaxWaitingAccounts)}
}

// formInt is a number field of a form; a field the form did not send
// keeps its current value, and one that does not parse is -1, which every
// setting refuses beside its field.
func formInt(r *http.Request, field string, current int) (string, int) {
	if !r.PostForm.Has(field) {
		return strconv.Itoa(current), current
	}
	s := strings.TrimSpace(r.PostForm.Get(field))
	n, err := strconv.Atoi(s)
	if err != nil {
		n = -1
	}
	return s, n
}

func (a *app) updateSettings(w http.ResponseWriter, r *http.Request) error {
	if err := parseForm(r); err != nil {
		return err
	}
	u := currentUser(r)
	t := tr{chooseLanguage(r, u)}
	in := a.store.Settings().Input()
	f := settingsForm{HouseName: r.PostForm.Get("house_name"), TimeZone: strings.TrimSpace(r.PostForm.Get("time_zone")),
		MaxNights: strings.TrimSpace(r.PostForm.Get("max_nights")), SelfRegistration: r.PostForm.Get("self_registration") == "1"}
	in.HouseName, in.TimeZone, in.SelfRegistration = f.HouseName, f.TimeZone, f.SelfRegistration
	// A number that does not parse goes to the store as 0, so the store
	// reports it together with every other problem of the form.
	in.MaxNights, _ = strconv.Atoi(f.MaxNights)
	f.HorizonMonths, in.HorizonMonths = formInt(r, "horizon_months", in.HorizonMonths)
	f.MaxPendingNights, in.MaxPendingBedNights = formInt(r, "max_pending_bed_nights", in.MaxPendingBedNights)
	f.MaxWaitingAccounts, in.MaxWaitingAccounts = formInt(r, "max_waiting_accounts", in.MaxWaitingAccounts)
	err := a.store.UpdateSettings(r.Context(), u, in)
	if err == nil {
		a.seeOther(w, r, "/admin/settings", "flash.saved")
		return nil
	}
	fe, err := problemsOf(t, err, nil)
	if err != nil {
		return err
	}
	return a.renderSettings(w, r, http.StatusUnprocessableEntity, &settingsPage{Form: f, Errors: fe})
}

type backupsPage struct {
	base
	// The database file: what went wrong with it, the last check, the disk.
	Health    store.Health
	Integrity *store.IntegrityResult
	Disk      diskReport
	DiskKnown bool
	// SetAside are the folders restores moved old databases into.
	SetAside      []backup.SetAsideFolder
	SetAsideBytes int64
	KeepSetAside  int
	// Replication.
	Enabled bool
	Status  backup.ReplicationStatus
	Age     time.Duration
}

func (p *backupsPage) DiskFree() string     { return formatBytes(p.Disk.Free) }
func (p *backupsPage) DiskSize() string     { return formatBytes(p.Disk.Size) }
func (p *backupsPage) DiskPercent() float64 { return p.Disk.Percent() }
func (p *backupsPage) SetAsideSize() string { return formatBytes(uint64(p.SetAsideBytes)) }

// showBackups is the administrator's view of the data's safety: the
// database file's state with what to do when it is damaged or the disk is
// full, the free space, and the replication.
func (a *app) showBackups(w http.ResponseWriter, r *http.Request) error {
	p := &backupsPage{Health: a.store.Health(), Integrity: a.store.LastIntegrity(), KeepSetAside: backup.KeepSetAside}
	if d, err := a.disk(); err == nil {
		p.Disk, p.DiskKnown = d, true
	}
	// A few folders beside the database: cheap enough for a page that
	// only administrators open.
	p.SetAside, _ = backup.SetAsideFolders(a.store.Path())
	for _, f := range p.SetAside {
		p.SetAsideBytes += f.Size
	}
	if a.backups != nil {
		p.Enabled = true
		p.Status = a.backups.Status()
		if !p.Status.LastSync.IsZero() {
			p.Age = time.Since(p.Status.LastSync).Round(time.Second)
		}
	}
	return a.render(w, r, http.StatusOK, "backups", p)
}
