package handlers

import (
	"testing"

	"booking/mailer"
	"booking/store"
)

// TestMailWordsComplete: the catalogue has every word the mail and outbox
// pages build from the store's kinds, statuses and TLS modes (the template
// builds those keys, so TestCatalogComplete cannot find them).
func TestMailWordsComplete(t *testing.T) {
	var keys []string
	for _, k := range store.MailKinds {
		keys = append(keys, "mail.kind."+k)
	}
	for _, s := range []string{store.MailQueued, store.MailSent, store.MailFailed, store.MailSkipped} {
		keys = append(keys, "mail.status."+s)
	}
	for _, m := range []string{mailer.TLSStartTLS, mailer.TLSImplicit, mailer.TLSNone} {
		keys = append(keys, "settings.mail_tls."+m)
	}
	for _, k := range []string{store.MailBookingCreated, store.MailBookingChanged, store.MailBookingAccepted, store.MailBookingRejected,
		store.MailBookingCancelled, "booking_cancelled_yours", store.MailMemberWaiting, store.MailMemberJoined, store.MailAccountApproved,
		store.MailInvitation, store.MailPasswordReset, store.MailRegistrationAttempt, store.MailTest} {
		keys = append(keys, "mail."+k+".subject")
	}
	for _, k := range keys {
		if e, ok := catalog[k]; !ok || e[0] == "" || e[1] == "" {
			t.Errorf("%s is missing from the catalogue", k)
		}
	}
}
