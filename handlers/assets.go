package handlers

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// assets serves the embedded static files under fingerprinted names
// (style.3f2a9c1b.css), so browsers may cache them forever and a new
// version is a new URL. Each file is gzipped once at start-up.
type assets struct {
	byURL map[string]*asset
	urls  map[string]string // file name → fingerprinted URL
}

type asset struct {
	body, gz    []byte
	contentType string
	etag        string
}

func loadAssets(fsys fs.FS) (*assets, error) {
	as := &assets{byURL: map[string]*asset{}, urls: map[string]string{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:4])
		ext := path.Ext(p)
		url := "/static/" + strings.TrimSuffix(p, ext) + "." + hash + ext
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		as.byURL[url] = &asset{body: body, gz: gz.Bytes(), contentType: ct, etag: `"` + hash + `"`}
		as.urls[p] = url
		return nil
	})
	return as, err
}

// url returns the fingerprinted URL of a file; templates call it as static.
func (as *assets) url(name string) string {
	if u, ok := as.urls[name]; ok {
		return u
	}
	return "/static/missing/" + name
}

func (as *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := as.byURL[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", a.etag)
	h.Set("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") && len(a.gz) < len(a.body) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	w.Write(body)
}
