package store

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// plainText tells whether s is text a person typed: valid UTF-8 of visible
// characters and spaces. It refuses control characters (ESC and friends),
// the invisible format characters, among them the bidi overrides and
// isolates (U+202A-202E, U+2066-2069) that turn "Anna" into something that
// reads backwards, private-use and unassigned code points, and piles of
// combining marks ("Zalgo" text over the lines around it). Line breaks and
// tabs only where multiline allows them (notes, a rejection's reason).
func plainText(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	marks := 0
	for _, r := range norm.NFC.String(s) {
		switch {
		case multiline && (r == '\n' || r == '\r' || r == '\t'):
			marks = 0
		case !unicode.IsGraphic(r):
			// Not a letter, mark, number, punctuation, symbol or space:
			// Cc, Cf, Co, Cs, Zl, Zp and unassigned.
			return false
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
			if marks++; marks > 2 {
				return false
			}
		default:
			marks = 0
		}
	}
	return true
}

// nameKey is what two display names must not share: "Anna", "anna",
// "Ánna", "ANNA " and "Аnna" (a Cyrillic А) are one name. The key maps
// letters that look like Latin ones (Cyrillic and Greek look-alikes) onto
// them, folds case (ß is ss), drops accents and other marks, collapses
// spaces, and counts 0 as o and 1, l and I as one letter: a partial skeleton
// in the spirit of Unicode TR 39, enough that nobody can take a family
// member's name with a look-alike.
func nameKey(name string) string {
	looks := strings.Map(func(r rune) rune {
		if l, ok := lookAlikes[r]; ok {
			return l
		}
		return r
	}, norm.NFKD.String(name))
	var b strings.Builder
	space := false
	for _, r := range cases.Fold().String(looks) {
		switch {
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
			continue
		case unicode.IsSpace(r) || r == '_' || r == '-' || r == '.':
			space = b.Len() > 0
			continue
		case r == '0':
			r = 'o'
		case r == '1' || r == 'l' || r == '|' || r == 'ı':
			r = 'i'
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// lookAlikes maps Cyrillic and Greek letters that render like a Latin
// letter onto it, before case folding (Greek Μ is an M, its μ a u): the
// common ones of Unicode's confusables.txt.
var lookAlikes = map[rune]rune{
	// Cyrillic
	'А': 'A', 'В': 'B', 'Е': 'E', 'Ё': 'E', 'З': '3', 'І': 'I', 'Ї': 'I', 'Ј': 'J', 'К': 'K', 'М': 'M', 'Н': 'H', 'О': 'O',
	'Р': 'P', 'С': 'C', 'Т': 'T', 'У': 'Y', 'Х': 'X', 'Ѕ': 'S', 'Һ': 'H', 'Ԁ': 'D', 'Ԛ': 'Q', 'Ԝ': 'W', 'Ӏ': 'I', 'Ү': 'Y',
	'а': 'a', 'е': 'e', 'ё': 'e', 'і': 'i', 'ї': 'i', 'ј': 'j', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x', 'ѕ': 's',
	'һ': 'h', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'ӏ': 'l', 'ү': 'y',
	// Greek
	'Α': 'A', 'Β': 'B', 'Ε': 'E', 'Ζ': 'Z', 'Η': 'H', 'Ι': 'I', 'Κ': 'K', 'Μ': 'M', 'Ν': 'N', 'Ο': 'O', 'Ρ': 'P', 'Τ': 'T',
	'Υ': 'Y', 'Χ': 'X', 'α': 'a', 'ι': 'i', 'κ': 'k', 'μ': 'u', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'υ': 'u', 'χ': 'x', 'ϲ': 'c',
	'ϳ': 'j',
}
