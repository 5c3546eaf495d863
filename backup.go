package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"booking/backup"
)

func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	var rcmd replicaCommand
	rcmd.register(fs)
	out := fs.String("o", "", "the new file")
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	if *out == "" {
		fmt.Fprintln(stderr, `booking backup: -o FILE is required; see "booking help"`)
		return exitUsage
	}
	if err := rcmd.setUp(stderr); err != nil {
		fmt.Fprintln(stderr, "booking backup:", err)
		return exitError
	}
	s, err := backup.Copy(ctx, rcmd.dbPath, *out)
	if err != nil {
		fmt.Fprintln(stderr, "booking backup:", err)
		return exitError
	}
	fmt.Fprintf(stdout, "Copied %s to %s\n", rcmd.dbPath, *out)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  size:\t%s\n", humanBytes(s.Size))
	fmt.Fprintf(tw, "  bookings:\t%d\n", s.Bookings)
	fmt.Fprintf(tw, "  latest booking:\t%s\n", describeBooking(s.LatestBooking, rcmd.loc))
	tw.Flush()
	return exitOK
}
