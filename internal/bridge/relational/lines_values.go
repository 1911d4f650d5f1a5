package relational

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// joinKey is JoinKey without building the row path's string: FNV-64a, inlined.
func joinKey(recordID string, rowPath []byte, column string) int64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(recordID); i++ {
		h = (h ^ uint64(recordID[i])) * prime
	}
	h *= prime // a 0 byte
	for _, c := range rowPath {
		h = (h ^ uint64(c)) * prime
	}
	h *= prime
	for i := 0; i < len(column); i++ {
		h = (h ^ uint64(column[i])) * prime
	}
	return int64(h)
}

// plainFraction is a JSON number with a fraction and no exponent, short enough that
// ParseFloat cannot overflow: a double whatever its digits.
func plainFraction(b []byte) bool {
	if len(b) >= 300 {
		return false
	}
	dot := false
	for _, c := range b {
		switch c {
		case '.':
			dot = true
		case 'e', 'E':
			return false
		}
	}
	return dot
}

// numberText is number's cell for a JSON number's text (which the parser has checked).
func numberText(s string) (Cell, error) {
	if !strings.ContainsFunc(s, func(c rune) bool { return c == '.' || c == 'e' || c == 'E' }) { // else ParseInt fails, allocating its error
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return Cell{Kind: Int64, num: uint64(i)}, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return Cell{}, fmt.Errorf("number %s does not fit a double", s)
	}
	return Cell{Kind: Double, num: math.Float64bits(f)}, nil
}

// toAny is a parsed value as Decode gives it (for error messages).
func toAny(v *fastjson.Value) any {
	var out any
	dec := json.NewDecoder(bytes.NewReader(v.MarshalTo(nil)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil
	}
	return out
}

func fastKind(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeNull:
		return "null"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "boolean"
	case fastjson.TypeString:
		return "string"
	case fastjson.TypeNumber:
		return "number"
	case fastjson.TypeArray:
		return "array"
	}
	return "object"
}
