package store

import (
	_ "embed"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The passwords people choose most often: Openwall's list (Solar Designer,
// 1996-2011, public domain; Debian ships it in john-data) and a short
// German supplement. NIST SP 800-63B asks to refuse such passwords, and
// repetitive or sequential ones.
var (
	//go:embed passwords_openwall.txt
	openwallPasswords string
	//go:embed passwords_de.txt
	germanPasswords string
)

// commonPasswords is the lists, lower-cased and sorted, built on first use
// (about 3,500 entries, some 100 KB: only the server that checks a
// password pays for it).
var commonPasswords = sync.OnceValue(func() []string {
	var out []string
	for _, list := range []string{openwallPasswords, germanPasswords} {
		for line := range strings.SplitSeq(list, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#!comment") {
				continue
			}
			out = append(out, strings.ToLower(line))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
})

func isCommonPassword(s string) bool {
	_, found := slices.BinarySearch(commonPasswords(), s)
	return found
}

// checkNewPassword adds the problem of a password someone chose, if any:
// too short, or too easy to guess.
func checkNewPassword(ps *problems, password string) {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLength:
		ps.add("password", KeyPasswordShort, MinPasswordLength)
	case weakPassword(password):
		ps.add("password", KeyPasswordCommon)
	}
}

// newPasswordError is checkNewPassword as an error.
func newPasswordError(password string) error {
	var ps problems
	checkNewPassword(&ps, password)
	return ps.err()
}

// sequences are runs a password must not be a piece of: digits, the
// alphabet, the rows of English and German keyboards.
var sequences = []string{
	"01234567890", "abcdefghijklmnopqrstuvwxyz",
	"qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiopü", "asdfghjklöä", "yxcvbnm",
	"qwertyuiopasdfghjklzxcvbnm", "qwertzuiopasdfghjklyxcvbnm",
	"1q2w3e4r5t6y7u8i9o0p", "1q2w3e4r5t6z7u8i9o0p", "q1w2e3r4t5y6u7i8o9p0", "q1w2e3r4t5z6u7i8o9p0",
}

// weakPassword tells whether a password is common or simple: on the list
// (ignoring case), or a listed word with digits or signs around it
// ("Passwort123", "!michael1987", also in leetspeak: "P@ssw0rd1"), one
// character or a block of up to three repeated ("aaaaaaaa", "        ",
// "12121212", "abcabcabc"), or a run along the alphabet, the digits or a
// keyboard row, either way ("abcdefgh", "87654321", "qwertzui").
func weakPassword(password string) bool {
	lower := strings.ToLower(password)
	if isCommonPassword(lower) || repeated(lower) || sequential(lower) {
		return true
	}
	// The word inside: what is left without digits and signs at its ends,
	// and that read as letters.
	core := strings.TrimFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	if utf8.RuneCountInString(core) < 4 {
		return false
	}
	for _, c := range []string{core, deLeet(core, 'i'), deLeet(core, 'l')} {
		if isCommonPassword(c) || sequential(c) || repeated(c) {
			return true
		}
	}
	return false
}

// deLeet reads digits and signs as the letters they stand for.
func deLeet(s string, one rune) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '@', '4':
			return 'a'
		case '0':
			return 'o'
		case '1', '!':
			return one
		case '3':
			return 'e'
		case '$', '5':
			return 's'
		case '7':
			return 't'
		}
		return r
	}, s)
}

// repeated tells whether s is one block of up to three characters, repeated.
func repeated(s string) bool {
	rs := []rune(s)
	for size := 1; size <= 3 && size < len(rs); size++ {
		if len(rs)%size != 0 {
			continue
		}
		same := true
		for i := size; i < len(rs) && same; i++ {
			same = rs[i] == rs[i-size]
		}
		if same {
			return true
		}
	}
	return false
}

// sequential tells whether s is a piece of one of the sequences, forwards
// or backwards.
func sequential(s string) bool {
	rev := []rune(s)
	slices.Reverse(rev)
	for _, seq := range sequences {
		if strings.Contains(seq, s) || strings.Contains(seq, string(rev)) {
			return true
		}
	}
	return false
}
