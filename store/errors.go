package store

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Handlers map them to status codes in one place.
var (
	ErrNotFound   = errors.New("not found")
	ErrForbidden  = errors.New("forbidden")
	ErrConflict   = errors.New("conflict")
	ErrNoCapacity = errors.New("not enough free beds")
	ErrInvalid    = errors.New("invalid input")
	// ErrBadCredentials is returned for a wrong email or password alike, so
	// a caller cannot tell which accounts exist.
	ErrBadCredentials = errors.New("wrong email or password")
	// ErrAccountExists: a registration for an email that has an account.
	// The caller must answer as for a new one (see Register).
	ErrAccountExists = errors.New("an account with this email exists")
	// ErrRegistrationsFull: too many accounts wait for approval.
	ErrRegistrationsFull = errors.New("too many accounts are waiting for approval")
)

// Problem is one reason a form was refused, tied to the form field it is
// about. Key names the message (handlers translate it); Args fill it in.
type Problem struct {
	Field string
	Key   string
	Args  []any
}

// Message keys. English texts live in messages, translations in the
// handlers' catalogue.
const (
	KeyRequired        = "required"
	KeyTooLong         = "too_long"
	KeyBadDate         = "bad_date"
	KeyArrivalPast     = "arrival_past"
	KeyDepartureBefore = "departure_before_arrival"
	KeyTooManyNights   = "too_many_nights"
	KeyNoItems         = "no_items"
	KeyPersonsRange    = "persons_range"
	KeyDuplicateItem   = "duplicate_item"
	KeyUnknownAcc      = "unknown_accommodation"
	KeyInactiveAcc     = "inactive_accommodation"
	KeyNoCapacity      = "no_capacity"
	KeyBedsRange       = "beds_range"
	KeyBadKind         = "bad_kind"
	KeyNameTaken       = "name_taken"
	KeyEmailTaken      = "email_taken"
	KeyBadEmail        = "bad_email"
	KeyPasswordShort   = "password_short"
	KeyBadRole         = "bad_role"
	KeyBadLanguage     = "bad_language"
	KeyBadTimeZone     = "bad_time_zone"
	KeyMaxNightsRange  = "max_nights_range"
	KeyBeyondHorizon   = "beyond_horizon"
	KeyPendingCap      = "pending_cap"
	KeyBadCharacters   = "bad_characters"
	KeyUserNameTaken   = "user_name_taken"
	KeyPasswordCommon  = "password_common"
)

// messages are the English texts, used by Error() for logs and the command
// line. The arguments are the Problem's Args, in order.
var messages = map[string]string{
	KeyRequired:        "is required",
	KeyTooLong:         "is longer than %d characters",
	KeyBadDate:         "is not a date (YYYY-MM-DD)",
	KeyArrivalPast:     "is in the past",
	KeyDepartureBefore: "must be after the arrival",
	KeyTooManyNights:   "a stay is at most %d nights",
	KeyNoItems:         "choose at least one accommodation",
	KeyPersonsRange:    "persons must be between %d and %d",
	KeyDuplicateItem:   "is chosen twice",
	KeyUnknownAcc:      "does not exist",
	KeyInactiveAcc:     "%s cannot be booked at the moment",
	KeyNoCapacity:      "%s has only %d free beds on %s",
	KeyBedsRange:       "beds must be between %d and %d",
	KeyBadKind:         "is not a known kind",
	KeyNameTaken:       "is already used",
	KeyEmailTaken:      "is already registered",
	KeyBadEmail:        "is not an email address",
	KeyPasswordShort:   "must be at least %d characters",
	KeyBadRole:         "is not a known role",
	KeyBadLanguage:     "is not a supported language",
	KeyBadTimeZone:     "is not a known time zone",
	KeyMaxNightsRange:  "must be between %d and %d",
	KeyBeyondHorizon:   "stays can begin at most %d months ahead, by %s",
	KeyPendingCap:      "your bookings waiting for a decision would come to %d bed-nights (persons x nights); %d are allowed",
	KeyBadCharacters:   "contains control or text-direction characters",
	KeyUserNameTaken:   "someone already has this name (case, accents and look-alike letters do not count)",
	KeyPasswordCommon:  "is one of the most common passwords, or too simple (repeated or sequential characters)",
}

// Message is the problem in English.
func (p Problem) Message() string {
	f, ok := messages[p.Key]
	if !ok {
		return p.Key
	}
	return fmt.Sprintf(f, p.Args...)
}

// ValidationError carries every problem found in one request, so a form can
// show each one beside its field.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message()
	}
	return "invalid: " + strings.Join(parts, "; ")
}

// Unwrap lets errors.Is tell a capacity refusal from other bad input.
func (e *ValidationError) Unwrap() error {
	for _, p := range e.Problems {
		if p.Key == KeyNoCapacity {
			return ErrNoCapacity
		}
	}
	return ErrInvalid
}

// Field returns the first problem for a field, if any.
func (e *ValidationError) Field(name string) (Problem, bool) {
	for _, p := range e.Problems {
		if p.Field == name {
			return p, true
		}
	}
	return Problem{}, false
}

// problems collects Problems while validating.
type problems []Problem

func (ps *problems) add(field, key string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Key: key, Args: args})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}
