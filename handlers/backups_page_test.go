package handlers_test

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"booking/backup"
)

// TestBackupsPageWarnsOfASameDiskReplica: the warning is on the page when
// the replica shares the database's disk, and only then.
func TestBackupsPageWarnsOfASameDiskReplica(t *testing.T) {
	for _, same := range []bool{true, false} {
		rs := &replicaState{st: backup.ReplicationStatus{Type: "file", Location: "file /var/lib/booking/replica", SameDevice: same}}
		e, h := newObservedEnv(t, rs, "")
		cookie := ""
		for _, ck := range e.as(e.admin).http.Jar.Cookies(mustURL(e.srv.URL)) {
			cookie = ck.Name + "=" + ck.Value
		}
		w := call(h, "GET", "/admin/backups", "192.0.2.7:4000", map[string]string{"Cookie": cookie, "Accept-Language": "en"})
		if w.Code != 200 {
			t.Fatalf("/admin/backups: %d", w.Code)
		}
		doc, err := goquery.NewDocumentFromReader(w.Body)
		if err != nil {
			t.Fatal(err)
		}
		alert := strings.TrimSpace(doc.Find(`main [role=alert]`).Text())
		if got := strings.Contains(alert, "same disk as the database"); got != same {
			t.Errorf("SameDevice=%v: alert %q", same, alert)
		}
	}
}
