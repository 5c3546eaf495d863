// Package static embeds the CSS, JavaScript and icons.
package static

import "embed"

//go:embed *.css *.js *.svg
var FS embed.FS
