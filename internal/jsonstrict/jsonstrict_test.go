package jsonstrict

import (
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOneValueOnly(t *testing.T) {
	var v map[string]any
	require.NoError(t, Decode([]byte(" {\"a\":1} \n"), &v, Options{}))
	assert.Equal(t, map[string]any{"a": 1.0}, v)

	for _, in := range []string{`{"a":1}]`, `{"a":1}}`, `{"a":1}{"a":2}`, `{"a":1} x`, `0 ]`, `[1] [2]`} {
		var v any
		err := Decode([]byte(in), &v, Options{})
		var te *TrailingDataError
		require.ErrorAs(t, err, &te, "%s", in)
		assert.NotContains(t, err.Error(), "]", "the error never echoes the data")
	}
}

func TestOptionsAndDecoderErrors(t *testing.T) {
	var s struct{ A int }
	var syn *json.SyntaxError
	assert.True(t, errors.Is(Decode([]byte(`{"A":`), &s, Options{}), io.ErrUnexpectedEOF))
	assert.ErrorAs(t, Decode([]byte(`{"A":1,}`), &s, Options{}), &syn)
	assert.Error(t, Decode([]byte(`{"A":1,"B":2}`), &s, Options{DisallowUnknownFields: true}))
	assert.NoError(t, Decode([]byte(`{"A":1,"B":2}`), &s, Options{}))

	var n any
	require.NoError(t, Decode([]byte(`12345678901234567890`), &n, Options{UseNumber: true}))
	assert.Equal(t, json.Number("12345678901234567890"), n)
}
