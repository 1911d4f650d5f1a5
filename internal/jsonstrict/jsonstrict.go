// Package jsonstrict decodes a document that must be exactly one JSON value. encoding/json's
// Decoder stops after the first value, and its More reports false before a stray `]` or `}`,
// so `{"a":1}]` or a second document would otherwise pass as valid: a manifest, a queue file or
// a message with anything after its value is refused here instead.
package jsonstrict

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Options are the decoder settings a caller needs.
type Options struct {
	// DisallowUnknownFields refuses a field the target struct does not have.
	DisallowUnknownFields bool
	// UseNumber keeps numbers as json.Number (exact) in interface values.
	UseNumber bool
}

// TrailingDataError is a document with something other than white space after its value. It
// gives the offset only, never the data (a message may carry personal data).
type TrailingDataError struct{ Offset int64 }

func (e *TrailingDataError) Error() string {
	return fmt.Sprintf("data after the JSON value at byte %d", e.Offset)
}

// Decode decodes data, which must hold one JSON value and nothing else but white space, into v.
// Errors are encoding/json's (a *json.SyntaxError, *json.UnmarshalTypeError, ...) or a
// *TrailingDataError.
func Decode(data []byte, v any, o Options) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if o.DisallowUnknownFields {
		dec.DisallowUnknownFields()
	}
	if o.UseNumber {
		dec.UseNumber()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	off := dec.InputOffset()
	if len(bytes.TrimLeft(data[off:], " \t\r\n")) > 0 {
		return &TrailingDataError{Offset: off}
	}
	return nil
}
