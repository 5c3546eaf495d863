package handlers

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"booking/store"
)

// TestCatalogComplete checks that every key the templates and handlers use,
// and every store problem key, has a German and an English text, and that
// both texts of a key take the same arguments.
func TestCatalogComplete(t *testing.T) {
	used := map[string]bool{}
	keyRe := regexp.MustCompile(`\b(?:t|T|refuse\([^,]+,|showError\(w, r, [^,]+,|http\.Status\w+,)\s*\(?\s*"([a-z_]+\.[a-z_.0-9]+)"`)
	// Flash messages are passed along before they are shown.
	flashRe := regexp.MustCompile(`"(flash\.[a-z_.0-9]+)"`)
	files, _ := filepath.Glob("../templates/*.html")
	gofiles, _ := filepath.Glob("*.go")
	for _, f := range append(files, gofiles...) {
		if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, "catalog.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyRe.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
		for _, m := range flashRe.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	if len(used) < 100 {
		t.Fatalf("found only %d keys: the pattern is broken", len(used))
	}
	for _, s := range store.Statuses {
		used["status."+s] = true
	}
	for _, s := range store.UserStates {
		used["state."+s] = true
	}
	for _, k := range store.AccommodationKinds {
		used["kind."+k] = true
	}
	for _, k := range []string{store.KeyRequired, store.KeyTooLong, store.KeyBadDate, store.KeyArrivalPast, store.KeyDepartureBefore,
		store.KeyTooManyNights, store.KeyNoItems, store.KeyPersonsRange, store.KeyDuplicateItem, store.KeyUnknownAcc,
		store.KeyInactiveAcc, store.KeyNoCapacity, store.KeyBedsRange, store.KeyBadKind, store.KeyNameTaken, store.KeyEmailTaken,
		store.KeyBadEmail, store.KeyPasswordShort, store.KeyBadRole, store.KeyBadLanguage, store.KeyBadTimeZone, store.KeyMaxNightsRange,
		store.KeyBeyondHorizon, store.KeyPendingCap, store.KeyBadCharacters, store.KeyUserNameTaken, store.KeyPasswordCommon} {
		used["err."+k] = true
	}
	for _, code := range []string{"400", "403", "404", "405", "409", "410", "413", "422", "429", "500", "503", "507"} {
		used["status.http."+code] = true
	}
	for k := range used {
		e, ok := catalog[k]
		if !ok {
			t.Errorf("key %q is used but not in the catalogue", k)
			continue
		}
		if e[0] == "" || e[1] == "" {
			t.Errorf("key %q lacks a translation", k)
		}
	}
	verbs := regexp.MustCompile(`%(\[\d\])?[a-z]`)
	for k, e := range catalog {
		de, en := verbs.FindAllString(e[0], -1), verbs.FindAllString(e[1], -1)
		if len(de) != len(en) {
			t.Errorf("key %q: German has %v, English %v", k, de, en)
		}
	}
}

func TestChooseLanguage(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"", "de"}, {"en-US,en;q=0.9", "en"}, {"fr-FR,fr;q=0.9,en;q=0.5", "en"}, {"de-AT", "de"},
		{"en;q=0.2,de;q=0.8", "de"}, {"xx", "de"}, {"garbage;;;", "de"},
	} {
		r, _ := newRequest(tc.header)
		if got := chooseLanguage(r, nil); got != tc.want {
			t.Errorf("Accept-Language %q: %s, want %s", tc.header, got, tc.want)
		}
	}
	r, _ := newRequest("en")
	if got := chooseLanguage(r, &store.User{Language: "de"}); got != "de" {
		t.Errorf("the user's setting must win: %s", got)
	}
}

func newRequest(acceptLanguage string) (*http.Request, error) {
	r, err := http.NewRequest(http.MethodGet, "/", nil)
	if acceptLanguage != "" {
		r.Header.Set("Accept-Language", acceptLanguage)
	}
	return r, err
}

// TestDurationInWords: the Backups page says how long ago the last sync was
// in words, in the largest whole unit, with German's dative after "vor".
func TestDurationInWords(t *testing.T) {
	de, en := tr{langDE}, tr{langEN}
	cases := []struct {
		d      time.Duration
		de, en string
	}{
		{0, "0 Sekunden", "0 seconds"},
		{time.Second, "1 Sekunde", "1 second"},
		{59 * time.Second, "59 Sekunden", "59 seconds"},
		{90 * time.Second, "1 Minute", "1 minute"},
		{47 * time.Hour, "47 Stunden", "47 hours"},
		{2922*time.Hour + 35*time.Minute, "121 Tagen", "121 days"},
	}
	for _, c := range cases {
		if got := de.T("backups.ago", de.Duration(c.d)); got != "vor "+c.de {
			t.Errorf("%v in German: %q", c.d, got)
		}
		if got := en.T("backups.ago", en.Duration(c.d)); got != c.en+" ago" {
			t.Errorf("%v in English: %q", c.d, got)
		}
	}
}
