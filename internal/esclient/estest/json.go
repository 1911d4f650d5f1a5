package estest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonParser decodes the lines of a _bulk body into the same values encoding/json gives
// with UseNumber (map[string]any, []any, string, json.Number, bool, nil), but several
// times faster and with far fewer allocations: string values without escapes are
// substrings of one string per line, object keys are interned across the request, and
// each map is allocated at its final size. A rebuild bulk-indexes hundreds of thousands
// of documents, and their sources stay in memory, so both the time and the heap matter.
type jsonParser struct {
	s     string
	i     int
	depth int
	keys  map[string]string // interned object keys, shared by the lines of one request
	kvs   []jsonKV          // scratch stack of the members of the objects being parsed
	vals  []any             // scratch stack of the elements of the arrays being parsed
}

type jsonKV struct {
	k string
	v any
}

const maxJSONDepth = 10000 // as encoding/json

func newJSONParser() *jsonParser { return &jsonParser{keys: map[string]string{}} }

// parse decodes one JSON value from b; anything but whitespace after it is an error.
func (p *jsonParser) parse(b []byte) (any, error) {
	p.s, p.i, p.depth = string(b), 0, 0
	p.ws()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i < len(p.s) {
		return nil, p.errAt("after top-level value")
	}
	return v, nil
}

func (p *jsonParser) errAt(context string) error {
	if p.i >= len(p.s) {
		return fmt.Errorf("unexpected end of JSON input")
	}
	return fmt.Errorf("invalid character %q %s (offset %d)", p.s[p.i], context, p.i)
}

func (p *jsonParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (any, error) {
	if p.i >= len(p.s) {
		return nil, p.errAt("")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case strings.HasPrefix(p.s[p.i:], "true"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "false"):
		p.i += 5
		return false, nil
	case strings.HasPrefix(p.s[p.i:], "null"):
		p.i += 4
		return nil, nil
	}
	return nil, p.errAt("looking for beginning of value")
}

func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > maxJSONDepth {
		return fmt.Errorf("exceeded max depth")
	}
	return nil
}

func (p *jsonParser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // {
	base := len(p.kvs)
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.depth--
		return map[string]any{}, nil
	}
	for {
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.errAt("looking for beginning of object key string")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if ik, ok := p.keys[k]; ok {
			k = ik
		} else if len(p.keys) < 10000 {
			k = strings.Clone(k)
			p.keys[k] = k
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errAt("after object key")
		}
		p.i++
		p.ws()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.kvs = append(p.kvs, jsonKV{k, v})
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			break
		}
		return nil, p.errAt("after object key:value pair")
	}
	m := make(map[string]any, len(p.kvs)-base)
	for _, kv := range p.kvs[base:] {
		m[kv.k] = kv.v // a repeated key keeps the last value, as encoding/json
	}
	clear(p.kvs[base:])
	p.kvs = p.kvs[:base]
	p.depth--
	return m, nil
}

func (p *jsonParser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // [
	base := len(p.vals)
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.depth--
		return []any{}, nil
	}
	for {
		p.ws()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.vals = append(p.vals, v)
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			break
		}
		return nil, p.errAt("after array element")
	}
	out := make([]any, len(p.vals)-base)
	copy(out, p.vals[base:])
	clear(p.vals[base:])
	p.vals = p.vals[:base]
	p.depth--
	return out, nil
}

// str parses a string at p.i (on the opening quote). Without escapes, and when valid
// UTF-8, the result is a substring of the input.
func (p *jsonParser) str() (string, error) {
	p.i++ // "
	start := p.i
	ascii := true
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			s := p.s[start:p.i]
			p.i++
			if !ascii && !utf8.ValidString(s) {
				return validUTF8(s), nil
			}
			return s, nil
		case c == '\\':
			return p.strSlow(start)
		case c < 0x20:
			return "", p.errAt("in string literal")
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.i++
	}
	return "", p.errAt("")
}

func (p *jsonParser) strSlow(start int) (string, error) {
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return validUTF8(b.String()), nil
		case c < 0x20:
			return "", p.errAt("in string literal")
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			p.i = len(p.s)
			return "", p.errAt("")
		}
		p.i++
		switch e := p.s[p.i]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4(p.i + 1)
			if !ok {
				return "", p.errAt("in \\u hexadecimal character escape")
			}
			p.i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := p.hex4(p.i + 3); ok && p.s[p.i+1] == '\\' && p.s[p.i+2] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						b.WriteRune(dec)
						p.i += 7 // past the second escape
						continue
					}
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			return "", p.errAt("in string escape code")
		}
		p.i++
	}
	return "", p.errAt("")
}

func (p *jsonParser) hex4(at int) (rune, bool) {
	if at+4 > len(p.s) {
		return 0, false
	}
	n, err := strconv.ParseUint(p.s[at:at+4], 16, 32)
	if err != nil || strings.ContainsAny(p.s[at:at+4], "+-") {
		return 0, false
	}
	return rune(n), true
}

// number parses a JSON number into a json.Number (a substring of the input).
func (p *jsonParser) number() (any, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.s[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, p.errAt("in numeric literal")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.errAt("after decimal point in numeric literal")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errAt("in exponent of numeric literal")
		}
	}
	return json.Number(p.s[start:p.i]), nil
}

// validUTF8 replaces each byte of an invalid UTF-8 sequence by U+FFFD, as encoding/json.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
