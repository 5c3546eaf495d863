// Command bench prepares a house and drives the real server with the
// 50-user mix, for bench/run.sh: it talks to loopback only, and every phase
// stops after a bounded time. It prints one "figure value unit" line per
// result; run.sh puts them side by side with the references of the same run.
//
//	go run ./bench seed -dir D [-members 50] [-bookings 0]
//	go run ./bench mix -base URL -pid PID [-users 50] [-for 30s]
//	go run ./bench open -base URL -pid PID [-rate 100] [-for 20s]
//	go run ./bench writes -base URL -pid PID [-clients 8] [-for 10s]
//	go run ./bench logins -base URL [-rate 50] [-burst 20] [-for 15s]
//	go run ./bench trickle -base URL -pid PID [-n 60] [-tail 35s]
//	go run ./bench idle -base URL -pid PID [-phones 10] [-for 60s]
//	go run ./bench hammer -base URL [-conns 50] [-for 5s]
//	go run ./bench bare -addr 127.0.0.1:PORT
//	go run ./bench start -bin B -dir D [-n 9]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"booking/store"
)

const password = "load-test-pw"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench seed|mix|open|writes|idle|hammer|bare|start [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "", "site folder (seed, start)")
	members := fs.Int("members", 50, "members to create (seed)")
	bookings := fs.Int("bookings", 0, "bookings to create (seed)")
	base := fs.String("base", "", "server URL, loopback only")
	pid := fs.Int("pid", 0, "server process id, for /proc figures")
	users := fs.Int("users", 50, "members in the closed loop (mix)")
	rate := fs.Float64("rate", 100, "requests per second (open)")
	clients := fs.Int("clients", 8, "concurrent bookers (writes)")
	phones := fs.Int("phones", 10, "logged-in phones (idle)")
	burst := fs.Int("burst", 20, "members logging in at once (logins)")
	conns := fs.Int("conns", 50, "connections (hammer)")
	dur := fs.Duration("for", 30*time.Second, "how long the phase runs")
	addr := fs.String("addr", "127.0.0.1:0", "listen address (bare)")
	bin := fs.String("bin", "", "server binary (start)")
	n := fs.Int("n", 9, "starts (start), bookings (trickle)")
	tail := fs.Duration("tail", 35*time.Second, "wait before and after the bookings (trickle)")
	fs.Parse(os.Args[2:])
	if *base != "" {
		if u, err := url.Parse(*base); err != nil || !isLoopback(u.Hostname()) {
			fail(fmt.Errorf("-base %q: loopback only", *base))
		}
	}
	var err error
	switch os.Args[1] {
	case "seed":
		err = seed(*dir, *members, *bookings)
	case "mix":
		err = mix(*base, *pid, *users, *dur)
	case "open":
		err = open(*base, *pid, *rate, *dur)
	case "writes":
		err = writes(*base, *pid, *clients, *dur)
	case "logins":
		err = logins(*base, *rate, *burst, *dur)
	case "trickle":
		err = trickle(*base, *pid, *n, *tail)
	case "idle":
		err = idle(*base, *pid, *phones, *dur)
	case "hammer":
		err = hammer(*base, *conns, *dur)
	case "bare":
		err = bare(*addr)
	case "start":
		err = startToHealthy(*bin, *dir, *n)
	default:
		err = fmt.Errorf("unknown phase %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

func figure(name string, v float64, unit string) {
	fmt.Printf("%-34s %12.1f %s\n", name, v, unit)
}

// seed makes the house of BenchmarkFiftyUsers in dir/data/booking.db: an
// admin, members, 6 accommodations, and bookings spread over the next year.
func seed(dir string, members, bookings int) error {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return err
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "data", "booking.db"), store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	admin, err := st.CreateUser(ctx, store.NewUser{Email: "admin@example.org", Name: "Admin", Role: store.RoleAdmin, State: store.StateApproved, Password: password})
	if err != nil {
		return err
	}
	in := st.Settings().Input()
	in.MaxPendingBedNights = 0
	if err := st.UpdateSettings(ctx, admin, in); err != nil {
		return err
	}
	var accs []*store.Accommodation
	for i := range 6 {
		a, err := st.CreateAccommodation(ctx, admin, store.AccommodationInput{Name: fmt.Sprintf("Raum %d", i), Kind: "room", Beds: 100})
		if err != nil {
			return err
		}
		accs = append(accs, a)
	}
	var ms []*store.User
	for i := range members {
		u, err := st.CreateUser(ctx, store.NewUser{Email: fmt.Sprintf("m%02d@example.org", i), Name: fmt.Sprintf("Mitglied %d", i),
			Role: store.RoleMember, State: store.StateApproved, Password: password})
		if err != nil {
			return err
		}
		ms = append(ms, u)
	}
	today := st.Today()
	for i := range bookings {
		arr := today.AddDays(1 + i%300)
		if _, err := st.CreateBooking(ctx, ms[i%len(ms)], store.BookingInput{Arrival: arr, Departure: arr.AddDays(1 + i%3),
			Items: []store.Item{{AccommodationID: accs[i%len(accs)].ID, Persons: 1}}}); err != nil {
			return fmt.Errorf("booking %d: %w", i, err)
		}
	}
	return nil
}

// member is one logged-in browser.
type member struct {
	c *http.Client
	i int
}

func login(base string, n int) ([]*member, error) {
	out := make([]*member, n)
	for i := range n {
		m, err := login1(base, i, "")
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// login1 logs member i in, in a browser of its own, from the loopback
// address from (e.g. 127.0.0.7; empty: the system's choice), so that a
// burst of logins comes from many households as far as the server's
// per-address login limits go.
func login1(base string, i int, from string) (*member, error) {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 2}
	if from != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		tr.DialContext = d.DialContext
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     tr}
	form := url.Values{"email": {fmt.Sprintf("m%02d@example.org", i)}, "password": {password}}
	res, err := post(c, base+"/login", form)
	if err != nil {
		return nil, err
	}
	if res != http.StatusSeeOther {
		return nil, fmt.Errorf("login m%02d: status %d", i, res)
	}
	return &member{c: c, i: i}, nil
}

func post(c *http.Client, u string, form url.Values) (int, error) {
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

func get(c *http.Client, u string) (int, error) {
	res, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// step is the k-th request of a member's round of the mix: the calendar,
// their bookings, the form, next January, and a booking of two nights.
func (m *member) step(base string, k int) (time.Duration, bool) {
	start := time.Now()
	var code int
	var err error
	switch k % 5 {
	case 0:
		code, err = get(m.c, base+"/calendar")
	case 1:
		code, err = get(m.c, base+"/bookings")
	case 2:
		code, err = get(m.c, base+"/bookings/new")
	case 3:
		code, err = get(m.c, base+"/calendar?month="+store.DateOf(time.Now()).AddMonths(2).String()[:7])
	case 4:
		code, err = m.book(base, k/5)
		if code == http.StatusSeeOther {
			code = 200
		}
	}
	return time.Since(start), err == nil && code == 200
}

func (m *member) book(base string, round int) (int, error) {
	arr := store.DateOf(time.Now()).AddDays(1 + (round*7+m.i)%300)
	// Round the seeded rooms (ids 1-6, 100 beds each): with one room the
	// house was full after about 15,000 bookings, and a faster server got
	// "fully booked" answers that counted as failures.
	room := fmt.Sprintf("persons.%d", 1+round%6)
	return post(m.c, base+"/bookings", url.Values{"arrival": {arr.String()}, "departure": {arr.AddDays(2).String()}, room: {"1"}})
}

// latencies collects request times from many goroutines.
type latencies struct {
	mu       sync.Mutex
	d        []time.Duration
	failures atomic.Int64
}

func (l *latencies) add(d time.Duration, ok bool) {
	if !ok {
		l.failures.Add(1)
	}
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(prefix string, elapsed time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.d)
	q := func(p float64) float64 {
		if len(l.d) == 0 {
			return 0
		}
		return float64(l.d[int(p*float64(len(l.d)-1))].Microseconds()) / 1000
	}
	figure(prefix+" requests", float64(len(l.d)), "")
	figure(prefix+" failures", float64(l.failures.Load()), "")
	figure(prefix+" throughput", float64(len(l.d))/elapsed.Seconds(), "req/s")
	figure(prefix+" p50", q(0.50), "ms")
	figure(prefix+" p99", q(0.99), "ms")
	figure(prefix+" max", q(1), "ms")
}

// stepNames name the requests of a member's round, see step.
var stepNames = [5]string{"calendar", "my bookings", "booking form", "month+2", "booking"}

// byStep reports each kind of request's latencies apart, so that a slow
// kind does not hide among fast ones.
type byStep [5]latencies

func (b *byStep) add(k int, d time.Duration, ok bool) { b[k%5].add(d, ok) }

func (b *byStep) report(prefix string) {
	for i := range b {
		l := &b[i]
		l.mu.Lock()
		slices.Sort(l.d)
		if len(l.d) > 0 {
			figure(prefix+" "+stepNames[i]+" p50", float64(l.d[len(l.d)/2].Microseconds())/1000, "ms")
			figure(prefix+" "+stepNames[i]+" p99", float64(l.d[int(0.99*float64(len(l.d)-1))].Microseconds())/1000, "ms")
		}
		l.mu.Unlock()
	}
}

// mix is the closed loop of BenchmarkFiftyUsers for a fixed time.
func mix(base string, pid, users int, dur time.Duration) error {
	ms, err := login(base, users)
	if err != nil {
		return err
	}
	reportProc("after logins", pid)
	// From here the kernel marks the pages the mix touches (see binaryPages).
	clearRefs := fmt.Sprintf("/proc/%d/clear_refs", pid)
	if err := os.WriteFile(clearRefs, []byte("1"), 0); err != nil {
		fmt.Fprintln(os.Stderr, "bench: cannot clear the referenced bits:", err)
	}
	var l latencies
	var kinds byStep
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			for k := 0; time.Now().Before(deadline); k++ {
				d, ok := m.step(base, k)
				l.add(d, ok)
				kinds.add(k, d, ok)
			}
		})
	}
	wg.Wait()
	l.report("mix", time.Since(start))
	kinds.report("mix")
	reportProc("after mix", pid)
	binaryPages("mix", pid)
	return nil
}

// binaryPages prints how much of the server's binary is mapped and how much
// of that the phase touched (smaps "Referenced", cleared when it began).
// The kernel maps a binary in large pieces (read-ahead, fault-around, large
// folios in the page cache), so the file-backed RSS is most of the binary
// whatever runs; the referenced part is what the server really used.
func binaryPages(phase string, pid int) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return
	}
	defer f.Close()
	var rss, ref int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") { // a mapping's first line
			in = len(fields) >= 6 && strings.Join(fields[5:], " ") == exe
			continue
		}
		if in && len(fields) >= 2 {
			n, _ := strconv.ParseInt(fields[1], 10, 64)
			switch fields[0] {
			case "Rss:":
				rss += n
			case "Referenced:":
				ref += n
			}
		}
	}
	figure("binary mapped after "+phase, float64(rss)/1024, "MiB")
	figure("binary touched during "+phase, float64(ref)/1024, "MiB")
}

// open sends the mix at a fixed rate whatever the answers take (an open
// load), so queueing in the server shows in the latencies.
func open(base string, pid int, rate float64, dur time.Duration) error {
	ms, err := login(base, 50)
	if err != nil {
		return err
	}
	var l latencies
	var kinds byStep
	var wg sync.WaitGroup
	every := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	steps := make([]int, len(ms))
	for i := 0; time.Since(start) < dur; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * every)); wait > 0 {
			time.Sleep(wait)
		}
		m := ms[i%len(ms)]
		k := steps[m.i]
		steps[m.i]++
		wg.Go(func() {
			d, ok := m.step(base, k)
			l.add(d, ok)
			kinds.add(k, d, ok)
		})
	}
	wg.Wait()
	l.report(fmt.Sprintf("open %.0f/s", rate), time.Since(start))
	kinds.report(fmt.Sprintf("open %.0f/s", rate))
	return nil
}

// logins sends page views at a steady rate (an open load) from members who
// are logged in, and in the middle a burst of members logging in at once
// (each a password hash on purpose slow): the page views during the burst
// should take as long as the ones before it.
func logins(base string, rate float64, burst int, dur time.Duration) error {
	viewers, err := login(base, 10)
	if err != nil {
		return err
	}
	var before, during, logins latencies
	var inBurst atomic.Bool
	var wg sync.WaitGroup
	every := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	burstAt := start.Add(dur / 3)
	fired := false
	for i := 0; time.Since(start) < dur; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * every)); wait > 0 {
			time.Sleep(wait)
		}
		if !fired && time.Now().After(burstAt) {
			fired = true
			inBurst.Store(true)
			var lw sync.WaitGroup
			for j := range burst {
				lw.Go(func() {
					t := time.Now()
					_, err := login1(base, 10+j%40, fmt.Sprintf("127.0.0.%d", 2+j))
					logins.add(time.Since(t), err == nil)
				})
			}
			go func() { lw.Wait(); inBurst.Store(false) }()
		}
		m := viewers[i%len(viewers)]
		wg.Go(func() {
			during0 := inBurst.Load()
			t := time.Now()
			code, err := get(m.c, base+"/calendar")
			d := time.Since(t)
			if during0 || inBurst.Load() {
				during.add(d, err == nil && code == 200)
			} else {
				before.add(d, err == nil && code == 200)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	before.report("pages outside the burst", elapsed)
	during.report("pages during the burst", elapsed)
	logins.report(fmt.Sprintf("%d logins at once", burst), elapsed)
	return nil
}

// writes books as fast as clients can, and counts what reaches the disk.
func writes(base string, pid, clients int, dur time.Duration) error {
	ms, err := login(base, clients)
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // let the logins' commits be shipped first
	before := writeBytes(pid)
	var done, failed atomic.Int64
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			for round := 0; time.Now().Before(deadline); round++ {
				if code, err := m.book(base, round+1000*m.i); err != nil || code != http.StatusSeeOther {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	time.Sleep(3 * time.Second) // Litestream ships the last second
	after := writeBytes(pid)
	figure("writes bookings", float64(done.Load()), "")
	figure("writes failures", float64(failed.Load()), "")
	figure("writes bookings/s", float64(done.Load())/elapsed.Seconds(), "/s")
	if done.Load() > 0 && before >= 0 {
		figure("writes disk per booking (burst)", float64(after-before)/float64(done.Load())/1024, "KB")
	}
	return nil
}

// trickle books once a second, as a family might at its busiest, each
// booking followed by the page that shows its flash message, on a server
// that did nothing else before: what reaches the disk per booking includes
// the WAL, Litestream's files, the checkpoints and the first compaction
// (levels[0] of litestream.yml, 30 s), which the tail waits for.
func trickle(base string, pid, n int, tail time.Duration) error {
	ms, err := login(base, 1)
	if err != nil {
		return err
	}
	m := ms[0]
	time.Sleep(tail) // the login's own commit is shipped and compacted
	before := writeBytes(pid)
	start := time.Now()
	failed := 0
	for i := range n {
		if code, err := m.book(base, 5000+i); err != nil || code != http.StatusSeeOther {
			failed++
		}
		get(m.c, base+"/calendar")
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * time.Second)))
	}
	time.Sleep(tail)
	after := writeBytes(pid)
	figure("trickle bookings", float64(n-failed), "")
	figure("trickle failures", float64(failed), "")
	if before >= 0 && n > failed {
		figure("writes disk per booking (1/s)", float64(after-before)/float64(n-failed)/1024, "KB")
	}
	return nil
}

// idle keeps phones logged in, each looking at the calendar once a minute
// (nothing changes), and extrapolates what reaches the disk to an hour.
func idle(base string, pid, phones int, dur time.Duration) error {
	ms, err := login(base, phones)
	if err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	before := writeBytes(pid)
	start := time.Now()
	for time.Since(start) < dur {
		for _, m := range ms {
			get(m.c, base+"/calendar")
		}
		time.Sleep(min(time.Minute, dur-time.Since(start)))
	}
	after := writeBytes(pid)
	figure("idle disk writes", float64(after-before)/time.Since(start).Hours()/(1<<20), "MB/hour")
	return nil
}

// hammer is a closed loop on one path, for the bare-handler reference.
func hammer(base string, conns int, dur time.Duration) error {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	var l latencies
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				t := time.Now()
				code, err := get(c, base)
				l.add(time.Since(t), err == nil && code == 200)
			}
		})
	}
	wg.Wait()
	l.report("bare", time.Since(start))
	return nil
}

// bare serves the smallest handler until killed: the ceiling of net/http on
// this core. It prints its address first.
func bare(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if !isLoopback(ln.Addr().(*net.TCPAddr).IP.String()) {
		return errors.New("bare: loopback only")
	}
	fmt.Println(ln.Addr())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
}

// startToHealthy execs the server n times in dir (pinned and limited as
// run.sh's environment says) and reports the median time to /health = 200.
func startToHealthy(bin, dir string, n int) error {
	var ds []time.Duration
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.Command("taskset", "-c", "0", bin, "serve", "-addr", addr)
		cmd.Dir = dir
		started := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		c := &http.Client{Timeout: time.Second}
		var took time.Duration
		for time.Since(started) < 20*time.Second {
			res, err := c.Get("http://" + addr + "/health")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					took = time.Since(started)
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if took == 0 {
			return errors.New("start: not healthy within 20s")
		}
		ds = append(ds, took)
	}
	slices.Sort(ds)
	figure("start to healthy (median)", float64(ds[len(ds)/2].Microseconds())/1000, "ms")
	figure("start to healthy (min)", float64(ds[0].Microseconds())/1000, "ms")
	figure("start to healthy (max)", float64(ds[len(ds)-1].Microseconds())/1000, "ms")
	return nil
}

// reportProc prints the server's memory: peak and current RSS, anonymous
// and file-backed, from /proc.
func reportProc(when string, pid int) {
	st := procKB(fmt.Sprintf("/proc/%d/status", pid))
	figure(when+": peak RSS", float64(st["VmHWM"])/1024, "MiB")
	figure(when+": RSS anon", float64(st["RssAnon"])/1024, "MiB")
	figure(when+": RSS file", float64(st["RssFile"])/1024, "MiB")
}

// procKB reads "Key: N kB" lines.
func procKB(path string) map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		v = strings.TrimSpace(v)
		if ok && strings.HasSuffix(v, " kB") {
			n, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
			out[k] = n
		}
	}
	return out
}

// writeBytes is what the process has caused to be written to storage so
// far (/proc/PID/io write_bytes), -1 if unknown.
func writeBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}
