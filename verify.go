package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"booking/backup"
)

func cmdVerifyBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify-backup", flag.ContinueOnError)
	var rcmd replicaCommand
	rcmd.register(fs)
	maxLag := fs.Duration("max-lag", 5*time.Minute, "how far the backup may trail the newest change")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := rcmd.setUp(stderr); err != nil {
		return err
	}
	rep, err := backup.Verify(ctx, rcmd.dbPath, rcmd.rc, backup.VerifyOptions{MaxLag: *maxLag})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backup check: %s\n  %s\n", strings.ToUpper(string(rep.Verdict)), rep.Reason)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  replica:\t%s\n", rcmd.rc.Location)
	if rep.Backup != nil {
		fmt.Fprintf(tw, "  restore window:\t%s to %s %s\n", rcmd.local(rep.Window.Start), rcmd.local(rep.Window.End), rcmd.loc)
		fmt.Fprintf(tw, "  newest point:\t%s (TXID %s)\n", rcmd.local(rep.Point.Time), backup.FormatTXID(rep.Point.TXID))
		fmt.Fprintf(tw, "  integrity check:\tok\n")
		fmt.Fprintf(tw, "  backup:\t%d bookings, latest %s\n", rep.Backup.Bookings, describeBooking(rep.Backup.LatestBooking, rcmd.loc))
	}
	if rep.Live != nil {
		fmt.Fprintf(tw, "  live database:\t%d bookings, latest %s\n", rep.Live.Bookings, describeBooking(rep.Live.LatestBooking, rcmd.loc))
		fmt.Fprintf(tw, "  live last changed:\t%s\n", rcmd.local(rep.LiveChangedAt))
		if len(rep.Differences) == 0 {
			fmt.Fprintf(tw, "  differences:\tnone (%d tables compared)\n", len(rep.Live.Tables))
		}
	}
	tw.Flush()
	for _, d := range rep.Differences {
		fmt.Fprintf(stdout, "  differs: %s\n", d)
	}
	if rep.Verdict != backup.VerdictOK {
		return errReported
	}
	return nil
}
