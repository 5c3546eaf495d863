package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"booking/store"
)

func cmdUserAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	var c common
	c.register(fs)
	email := fs.String("email", "", "email address (the login)")
	name := fs.String("name", "", "display name")
	admin := fs.Bool("admin", false, "make the account an administrator")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *email == "" || *name == "" {
		return usageError("--email and --name are required")
	}
	password, generated, err := readPassword(stdin)
	if err != nil {
		return fmt.Errorf("reading the password: %w", err)
	}
	s, err := c.load()
	if err != nil {
		return err
	}
	st, err := s.openStore(ctx, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	role := store.RoleMember
	if *admin {
		role = store.RoleAdmin
	}
	u, err := st.CreateUser(ctx, store.NewUser{Email: *email, Name: *name, Role: role, State: store.StateApproved, Password: password})
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintf(stderr, "booking user add: --%s %s\n", p.Field, p.Message())
		}
		return errReported
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s %s <%s> (id %d)\n", u.Role, u.Name, u.Email, u.ID)
	if generated {
		fmt.Fprintf(stdout, "password: %s\n(shown only now: write it down or change it after logging in)\n", password)
	}
	return nil
}

// readPassword takes the first line of stdin. A terminal or an empty input
// means "make one up": typing a password visibly into a terminal would leave
// it in the scrollback.
func readPassword(stdin io.Reader) (password string, generated bool, err error) {
	if f, ok := stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return generatePassword(), true, nil
		}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return generatePassword(), true, nil
	}
	return line, false, nil
}

// generatePassword returns 26 random characters from the standard library's
// base32 alphabet (128 bits, no look-alikes such as 0/O or 1/l).
func generatePassword() string { return rand.Text() }
