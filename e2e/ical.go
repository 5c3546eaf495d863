package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"
)

// debianPython is the system's Python, which sees Debian's packages (a
// python3 earlier on PATH may be another build that does not).
const debianPython = "/usr/bin/python3"

// icsScript parses an iCalendar object from stdin with the icalendar
// package and prints what the tests check, as JSON.
const icsScript = `
import json, sys
import icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
def text(c, name):
    v = c.get(name)
    return None if v is None else str(v)
def date(c, name):
    v = c.get(name)
    if v is None:
        return None
    d = v.dt
    return {"value": d.isoformat(), "all_day": not hasattr(d, "hour")}
out = {"name": text(cal, "X-WR-CALNAME"), "version": text(cal, "VERSION"), "prodid": text(cal, "PRODID"),
       "timezones": [text(tz, "TZID") for tz in cal.walk("VTIMEZONE")], "events": []}
for ev in cal.walk("VEVENT"):
    seq = ev.get("SEQUENCE")
    out["events"].append({
        "uid": text(ev, "UID"), "summary": text(ev, "SUMMARY"), "description": text(ev, "DESCRIPTION"),
        "status": text(ev, "STATUS"), "sequence": None if seq is None else int(seq), "transp": text(ev, "TRANSP"),
        "url": text(ev, "URL"), "location": text(ev, "LOCATION"),
        "start": date(ev, "DTSTART"), "end": date(ev, "DTEND"), "stamp": date(ev, "DTSTAMP"),
    })
json.dump(out, sys.stdout)
`

// ICSCalendar is what Debian's python3-icalendar read from a feed.
type ICSCalendar struct {
	Name      string     `json:"name"`
	Version   string     `json:"version"`
	ProdID    string     `json:"prodid"`
	Timezones []string   `json:"timezones"`
	Events    []ICSEvent `json:"events"`
}

// ICSEvent is one VEVENT as python3-icalendar read it.
type ICSEvent struct {
	UID         string  `json:"uid"`
	Summary     string  `json:"summary"`
	Description string  `json:"description"`
	Status      string  `json:"status"`
	Sequence    int     `json:"sequence"`
	Transp      string  `json:"transp"`
	URL         string  `json:"url"`
	Location    string  `json:"location"`
	Start       ICSDate `json:"start"`
	End         ICSDate `json:"end"`
	Stamp       ICSDate `json:"stamp"`
}

// ICSDate is a DATE or DATE-TIME in ISO form.
type ICSDate struct {
	Value  string `json:"value"`
	AllDay bool   `json:"all_day"`
}

// RequireICalendar checks that Debian's python3-icalendar can be used:
// outside CI it skips the test when it cannot, in CI it fails it.
func RequireICalendar(tb testing.TB) {
	tb.Helper()
	out, err := exec.Command(debianPython, "-c", "import icalendar").CombinedOutput()
	if err != nil {
		ToolMissing(tb, "python3-icalendar is missing for "+debianPython+" ("+string(bytes.TrimSpace(out))+"): apt-get install -y python3-icalendar")
	}
}

// ParseICS has an independent parser read an iCalendar object: Debian's
// python3-icalendar, through /usr/bin/python3.
func ParseICS(tb testing.TB, ics []byte) *ICSCalendar {
	tb.Helper()
	RequireICalendar(tb)
	cmd := exec.Command(debianPython, "-c", icsScript)
	cmd.Stdin = bytes.NewReader(ics)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("python3-icalendar could not read the feed: %v\n%s\nthe feed:\n%s", err, stderr.String(), ics)
	}
	var cal ICSCalendar
	if err := json.Unmarshal(stdout.Bytes(), &cal); err != nil {
		tb.Fatalf("%v: %s", err, stdout.String())
	}
	return &cal
}
