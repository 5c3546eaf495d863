package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"booking/store"
)

// cmdVersion prints one line that a person and "booking upgrade" read:
//
//	booking 1.4.0 (go1.26.8, linux/arm/v7, schema 2)
//
// The target is where the binary runs; the schema is the database version
// it migrates to, so an upgrade knows whether going back needs the old
// database.
func cmdVersion(stdout io.Writer) {
	fmt.Fprintf(stdout, "booking %s (%s, %s, schema %d)\n", buildVersion(), runtime.Version(), buildTarget(), store.SchemaVersion())
}

// buildTarget is GOOS/GOARCH, with the ARM level for 32-bit ARM
// (linux/arm/v7), as container platforms write it.
func buildTarget() string {
	t := runtime.GOOS + "/" + runtime.GOARCH
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOARM" && runtime.GOARCH == "arm" {
				t += "/v" + s.Value
			}
		}
	}
	return t
}
