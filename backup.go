package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"booking/backup"
)

func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	var rcmd replicaCommand
	rcmd.register(fs)
	out := fs.String("o", "", "the new file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError(`-o FILE is required; see "booking help"`)
	}
	if err := rcmd.setUp(stderr); err != nil {
		return err
	}
	s, err := backup.Copy(ctx, rcmd.dbPath, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Copied %s to %s\n", rcmd.dbPath, *out)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  size:\t%s\n", humanBytes(s.Size))
	fmt.Fprintf(tw, "  bookings:\t%d\n", s.Bookings)
	fmt.Fprintf(tw, "  latest booking:\t%s\n", describeBooking(s.LatestBooking, rcmd.loc))
	tw.Flush()
	return nil
}
