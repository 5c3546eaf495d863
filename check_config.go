package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"booking/backup"
	"booking/store"
)

// cmdCheckConfig reads litestream.yml as the server would and says where
// the database and the replica are, and whether the replica shares the
// database's disk. deploy/install.sh asks it for the replica's folder
// (--replica-dir) to let the service write there and wait for its mount;
// "booking upgrade" asks it, as the database's owner, for the schema.
func cmdCheckConfig(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	var c common
	c.register(fs)
	onlyDir := fs.Bool("replica-dir", false, "print only the folder of a file replica (nothing for SFTP or S3)")
	onlySchema := fs.Bool("schema", false, "print only the database's schema version (0 when there is no database)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := c.load()
	if err != nil {
		return err
	}
	if *onlySchema {
		v := 0
		if _, err := os.Stat(s.dbPath); err == nil {
			if v, err = store.SchemaOf(ctx, s.dbPath); err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout, v)
		return nil
	}
	rc := s.replicaConfig(slog.New(slog.DiscardHandler))
	dir := backup.ReplicaDir(rc)
	if dir != "" {
		// Relative to the working directory, as the server resolves it.
		if dir, err = filepath.Abs(dir); err != nil {
			return err
		}
	}
	if *onlyDir {
		if dir != "" {
			fmt.Fprintln(stdout, dir)
		}
		return nil
	}
	db, err := filepath.Abs(s.dbPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: OK\n  database: %s\n  replica:  %s\n", c.config, db, rc.Location)
	same, err := backup.OnSameDevice(s.dbPath, rc)
	if err != nil {
		return err
	}
	if same {
		fmt.Fprintln(stdout, "  WARNING: the replica is on the same disk as the database: it undoes mistakes but dies with the SD card. Point it at a USB disk, a NAS (SFTP) or S3 (see the README).")
	}
	return nil
}
