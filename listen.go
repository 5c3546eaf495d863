package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// listen returns the socket to serve on. Under systemd with booking.socket
// it is the one systemd passed (socket activation): systemd owns the port,
// so connections that arrive while the service restarts wait in its queue
// instead of being refused. Without systemd the server listens on addr
// itself. The second result says which, for the log.
func listen(addr string) (net.Listener, string, error) {
	ln, err := systemdListener()
	if err != nil || ln != nil {
		return ln, "systemd socket (LISTEN_FDS)", err
	}
	ln, err = net.Listen("tcp", addr)
	return ln, "-addr", err
}

// systemdListener takes the first socket systemd passed, by the protocol of
// sd_listen_fds(3): LISTEN_PID names this process and LISTEN_FDS counts the
// descriptors from 3 on. Nil, nil when there is none. The variables are
// removed so that no child process takes them for its own.
func systemdListener() (net.Listener, error) {
	pid, fds := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if pid == "" || fds == "" {
		return nil, nil
	}
	defer func() {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}()
	if pid != strconv.Itoa(os.Getpid()) {
		return nil, nil // meant for another process
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: want a count of sockets", fds)
	}
	if n > 1 {
		return nil, fmt.Errorf("systemd passed %d sockets; booking.socket should listen on one", n)
	}
	const first = 3 // SD_LISTEN_FDS_START
	syscall.CloseOnExec(first)
	f := os.NewFile(first, "systemd-socket")
	defer f.Close() // FileListener holds its own copy
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("the socket systemd passed: %w", err)
	}
	return ln, nil
}
