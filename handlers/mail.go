package handlers

import "booking/mailer"

// MailWords are the catalogue's texts and formats in lang, for the mails
// the sender writes: a mail says things the way the pages do.
func MailWords(lang string) mailer.Words {
	if lang != langEN {
		lang = langDE
	}
	return tr{lang}
}
