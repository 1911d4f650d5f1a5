// Package leakscan finds secrets where they must not be: in raw workflow histories, search
// attributes, memos, logs, metrics and schedule descriptions. Temporal shows a payload's bytes
// in base64 (a plain JSON input appears as base64 of `{"package":"Diag-..."}`), the Web UI and
// HTTP clients put values in URLs, and JSON encoders escape some characters, so a secret is
// looked for in clear and in each of those forms, at any position inside a longer encoded
// blob. A finding never shows the secret: only its name, the form, where, and the text
// around it with the match masked, so a failing test does not print what it protects.
package leakscan

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"unicode/utf8"
)

// MinLen is the shortest secret accepted: shorter values (and their 4-character base64
// fragments) turn up by chance in encrypted payloads, so a scan for them proves nothing.
const MinLen = 6

// Secret is one value that must never appear, and what it is (for findings; the value
// itself is never shown).
type Secret struct {
	Name  string
	Value string
}

// Forms a secret is looked for in.
const (
	FormClear     = "clear"
	FormJSON      = "json-escaped"
	FormURLQuery  = "url-query-encoded"
	FormURLPath   = "url-path-encoded"
	FormBase64    = "base64"
	FormBase64URL = "base64url"
)

// Finding is one secret found in one source: the first place and how often.
type Finding struct {
	Secret string // Secret.Name
	Form   string // how it was encoded where found (FormClear, FormBase64, ...)
	Source string
	Offset int    // byte offset of the first match
	Count  int    // matches of this secret in this form in the source
	Around string // the text around the first match, the match masked
}

// String describes the finding without the secret's value.
func (f Finding) String() string {
	return fmt.Sprintf("%s (%s) in %s at byte %d (%d times): %s", f.Secret, f.Form, f.Source, f.Offset, f.Count, f.Around)
}

type needle struct {
	secret, form string
	text         []byte
	digits       bool // an all-digit clear form counts only where no digit touches it
}

// Scanner searches data for a fixed set of secrets in every form.
type Scanner struct {
	needles []needle
	byHead  map[[4]byte][]int
	values  []string
}

// New prepares a scanner. It refuses an empty name and a value shorter than MinLen. Values
// are bytes, matched exactly (a key's raw bytes are a value too): trim a secret read from a
// file first, or it is looked for with its newline.
func New(secrets ...Secret) (*Scanner, error) {
	if len(secrets) == 0 {
		return nil, errors.New("leakscan: no secrets to look for")
	}
	s := &Scanner{byHead: map[[4]byte][]int{}}
	seen := map[string]bool{}
	var errs []error
	for _, sec := range secrets {
		switch {
		case sec.Name == "":
			errs = append(errs, errors.New("leakscan: a secret has no name"))
			continue
		case len(sec.Value) < MinLen:
			errs = append(errs, fmt.Errorf("leakscan: secret %q is %d bytes, at least %d are needed to tell it from chance", sec.Name, len(sec.Value), MinLen))
			continue
		}
		s.values = append(s.values, sec.Value)
		for _, n := range forms(sec) {
			key := n.secret + "\x00" + string(n.text)
			if seen[key] {
				continue
			}
			seen[key] = true
			s.needles = append(s.needles, n)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, n := range s.needles {
		h := head(n.text)
		s.byHead[h] = append(s.byHead[h], i)
	}
	return s, nil
}

// Must is New for test set-up: it panics on a bad secret list.
func Must(secrets ...Secret) *Scanner {
	s, err := New(secrets...)
	if err != nil {
		panic(err)
	}
	return s
}

// Needles is how many texts the scanner looks for (every form of every secret), for reports.
func (s *Scanner) Needles() int { return len(s.needles) }

// forms lists the texts one secret may appear as: the value and its JSON- and URL-escaped
// forms in clear, and the base64 (std and URL alphabets) of each of those at the three byte
// alignments it can have inside a longer encoded text.
func forms(sec Secret) []needle {
	texts := []needle{{secret: sec.Name, form: FormClear, text: []byte(sec.Value), digits: allDigits(sec.Value)}}
	add := func(form, v string) {
		if v != sec.Value {
			texts = append(texts, needle{secret: sec.Name, form: form, text: []byte(v)})
		}
	}
	if utf8.ValidString(sec.Value) {
		j, _ := json.Marshal(sec.Value)
		add(FormJSON, string(j[1:len(j)-1]))
	}
	add(FormURLQuery, url.QueryEscape(sec.Value))
	add(FormURLPath, url.PathEscape(sec.Value))
	out := append([]needle(nil), texts...)
	for _, t := range texts {
		for _, enc := range []struct {
			form string
			e    *base64.Encoding
		}{{FormBase64, base64.RawStdEncoding}, {FormBase64URL, base64.RawURLEncoding}} {
			for _, core := range base64Cores(t.text, enc.e) {
				out = append(out, needle{secret: sec.Name, form: enc.form, text: []byte(core)})
			}
		}
	}
	return out
}

// base64Cores returns, for each alignment k (the secret starting k bytes into a 3-byte
// group), the base64 characters that depend on the secret's bytes alone: whatever comes
// before or after it in the encoded text, these characters appear.
func base64Cores(v []byte, enc *base64.Encoding) []string {
	var out []string
	for k := 0; k < 3; k++ {
		encoded := enc.EncodeToString(append(make([]byte, k), v...))
		first := (8*k + 5) / 6       // first character wholly inside the secret's bits
		last := (8*k+8*len(v))/6 - 1 // last such character
		if last-first+1 >= MinLen {  // a short core proves nothing
			out = append(out, encoded[first:last+1])
		}
	}
	return out
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func head(b []byte) [4]byte {
	var h [4]byte
	copy(h[:], b)
	return h
}

// Scan returns the secrets found in data, one finding per secret and form, sorted.
func (s *Scanner) Scan(source string, data []byte) []Finding {
	found := map[int]*Finding{}
	for i := 0; i+4 <= len(data); i++ {
		for _, ni := range s.byHead[head(data[i:])] {
			n := s.needles[ni]
			if !hasAt(data, i, n) {
				continue
			}
			if f := found[ni]; f != nil {
				f.Count++
				continue
			}
			found[ni] = &Finding{Secret: n.secret, Form: n.form, Source: source, Offset: i, Count: 1,
				Around: s.around(data, i, len(n.text))}
		}
	}
	out := make([]Finding, 0, len(found))
	for _, f := range found {
		out = append(out, *f)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Secret != out[b].Secret {
			return out[a].Secret < out[b].Secret
		}
		return out[a].Form < out[b].Form
	})
	return out
}

func hasAt(data []byte, i int, n needle) bool {
	if len(data)-i < len(n.text) || string(data[i:i+len(n.text)]) != string(n.text) {
		return false
	}
	if !n.digits {
		return true
	}
	isDigit := func(j int) bool { return j >= 0 && j < len(data) && data[j] >= '0' && data[j] <= '9' }
	return !isDigit(i-1) && !isDigit(i+len(n.text))
}

// around shows up to 24 bytes either side of a match with every match of any secret in
// that window (this one, a repeat, one cut by the window's edge) and every run of MinLen or
// more bytes of a secret's value (a truncated copy) replaced by a marker, and anything
// unprintable by '.', so the finding can be located without showing a secret.
func (s *Scanner) around(data []byte, i, n int) string {
	const side = 24
	from, to := max(0, i-side), min(len(data), i+n+side)
	masked := make([]bool, to-from)
	longest := 0
	for _, nd := range s.needles {
		longest = max(longest, len(nd.text))
	}
	for p := max(0, from-longest); p < to && p+4 <= len(data); p++ {
		for _, ni := range s.byHead[head(data[p:])] {
			if nd := s.needles[ni]; hasAt(data, p, nd) {
				for q := max(p, from); q < min(p+len(nd.text), to); q++ {
					masked[q-from] = true
				}
			}
		}
	}
	for p := from; p < to; p++ {
		for _, v := range s.values {
			m := 0
			for p+m < to && strings.Contains(v, string(data[p:p+m+1])) {
				m++
			}
			if m >= MinLen {
				for q := p; q < p+m; q++ {
					masked[q-from] = true
				}
			}
		}
	}
	var b strings.Builder
	for j := from; j < to; j++ {
		switch c := data[j]; {
		case masked[j-from]:
			if j == from || !masked[j-from-1] {
				b.WriteString("[SECRET]")
			}
		case c < 0x20 || c > 0x7e:
			b.WriteByte('.')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ScanFile scans a file's contents; the source is its path.
func (s *Scanner) ScanFile(path string) ([]Finding, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("leakscan: %w", err)
	}
	return s.Scan(path, data), nil
}
