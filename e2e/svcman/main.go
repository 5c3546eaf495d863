// Command svcman stands in for systemd's service manager in the upgrade
// tests, which run where systemd is not PID 1. It does the two things of
// booking.socket + booking.service that an upgrade relies on, and nothing
// else:
//
//	systemd-socket-activate -l 127.0.0.1:PORT svcman -dir D run -- BINARY serve ...
//
// holds the listening socket that systemd-socket-activate passes (fd 3) for
// as long as it runs, and runs the service with it (LISTEN_FDS=1 and
// LISTEN_PID of the service, as systemd does), restarting it when it fails
// (Restart=on-failure, RestartSec=1s). And
//
//	svcman -dir D stop UNIT      svcman -dir D start UNIT
//
// work like systemctl stop and start with Type=exec: stop returns once the
// service has exited (SIGTERM), start once it has been started. "booking
// upgrade -systemctl 'svcman -dir D'" calls them. The service's output goes
// to D/service.log.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", "", "the folder for the control socket and the service's log")
	flag.Parse()
	if *dir == "" || flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: svcman -dir D run -- CMD ARGS... | svcman -dir D stop|start UNIT")
		os.Exit(2)
	}
	sock := filepath.Join(*dir, "svcman.sock")
	var err error
	switch flag.Arg(0) {
	case "run":
		err = run(*dir, sock, flag.Args()[1:])
	case "stop", "start":
		err = control(sock, flag.Arg(0))
	default:
		err = fmt.Errorf("unknown command %q", flag.Arg(0))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "svcman:", err)
		os.Exit(1)
	}
}

// control sends one command to the running manager and waits for its answer.
func control(sock, verb string) error {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintln(c, verb)
	answer, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if answer = strings.TrimSpace(answer); answer != "ok" {
		return errors.New(answer)
	}
	return nil
}

// manager runs one service.
type manager struct {
	argv    []string
	socket  *os.File
	logPath string

	mu     sync.Mutex
	wanted bool          // started and not stopped: restart on failure
	proc   *os.Process   // nil while not running
	exited chan struct{} // closed when proc has exited
}

func run(dir, sock string, argv []string) error {
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return errors.New("run: no command")
	}
	if os.Getenv("LISTEN_FDS") != "1" || os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return errors.New("run: start me with systemd-socket-activate, which passes the socket")
	}
	m := &manager{argv: argv, socket: os.NewFile(3, "listener"), logPath: filepath.Join(dir, "service.log")}
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDNAMES")
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := m.start(); err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		m.stop()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil // closed by SIGTERM
		}
		go m.serve(c)
	}
}

func (m *manager) serve(c net.Conn) {
	defer c.Close()
	verb, _ := bufio.NewReader(c).ReadString('\n')
	var err error
	switch strings.TrimSpace(verb) {
	case "stop":
		m.stop()
	case "start":
		err = m.start()
	default:
		err = fmt.Errorf("unknown verb %q", verb)
	}
	if err != nil {
		fmt.Fprintln(c, "error:", err)
		return
	}
	fmt.Fprintln(c, "ok")
}

// start runs the service unless it runs.
func (m *manager) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wanted = true
	if m.proc != nil {
		return nil
	}
	return m.spawn()
}

// spawn starts the process; m.mu is held. The shell sets LISTEN_PID to its
// own pid and then becomes the service (exec), so the pid is the service's.
func (m *manager) spawn() error {
	log, err := os.OpenFile(m.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"`, "sh"}, m.argv...)...)
	cmd.ExtraFiles = []*os.File{m.socket} // fd 3
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	m.proc, m.exited = cmd.Process, exited
	fmt.Fprintf(log, "svcman: started pid %d\n", cmd.Process.Pid)
	go func() {
		err := cmd.Wait()
		m.mu.Lock()
		defer m.mu.Unlock()
		m.proc = nil
		close(exited)
		m.note("exited: %v", err)
		if err != nil && m.wanted {
			// Restart=on-failure with RestartSec=1s.
			time.AfterFunc(time.Second, func() {
				m.mu.Lock()
				defer m.mu.Unlock()
				if m.wanted && m.proc == nil {
					if err := m.spawn(); err != nil {
						m.note("restart: %v", err)
					}
				}
			})
		}
	}()
	return nil
}

// stop ends the service with SIGTERM (SIGKILL after 60 s, as
// TimeoutStopSec) and returns once it has exited.
func (m *manager) stop() {
	m.mu.Lock()
	m.wanted = false
	p, exited := m.proc, m.exited
	m.mu.Unlock()
	if p == nil {
		return
	}
	p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		p.Kill()
		<-exited
	}
}

func (m *manager) note(format string, args ...any) {
	if log, err := os.OpenFile(m.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(log, "svcman: "+format+"\n", args...)
		log.Close()
	}
}
