// Package templates embeds the HTML templates: layout.html, the partials
// (partial_*.html) and one file per page.
package templates

import "embed"

//go:embed *.html
var FS embed.FS
