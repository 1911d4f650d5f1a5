package reval_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/revalsim"
)

// contentFreeError is every shape a refusal may take: a sentinel, then at most a position,
// a known field with the JSON kind found (never the value), or a fixed phrase. Anything else
// may carry the message's (personal) content into errors, logs and workflow history.
var contentFreeError = regexp.MustCompile(`^(` +
	regexp.QuoteMeta(reval.ErrNoPersonID.Error()) + `|` +
	regexp.QuoteMeta(reval.ErrNoGMCNumber.Error()) + `|` +
	regexp.QuoteMeta(reval.ErrNoPayload.Error()) + `|` +
	regexp.QuoteMeta(reval.ErrMalformed.Error()) + `: (syntax error at byte [0-9]+|truncated or empty|invalid|trailing data after the JSON object|` +
	`field "[A-Za-z.]*" must be [][*A-Za-z0-9.]+, got (string|number|bool|array|object|null))` +
	`)$`)

// FuzzRevalMessages decodes arbitrary bodies as both kinds of sync message. A refusal wraps
// a sentinel and echoes nothing of the body (contentFreeError). An accepted syncData message
// is valid JSON, the end marker or a doctor with a positive tcsPersonId (its document id),
// and marshals to a body that parses back to it; an accepted GMC message likewise is valid
// JSON, the end marker or a summary with a GMC number.
func FuzzRevalMessages(f *testing.F) {
	for i := range 3 {
		d := revalsim.Generate(1, i)
		c, err := json.Marshal(d.Connection)
		require.NoError(f, err)
		g, err := json.Marshal(reval.IndexSyncMessage{Payload: &d.GMC})
		require.NoError(f, err)
		f.Add(c)
		f.Add(g)
	}
	for _, s := range []string{
		`{"syncEnd":true,"count":42}`, `{"syncEnd":true}`, `{"payload":null,"syncEnd":true,"count":7}`,
		`{"tcsPersonId":1,"doctorFirstName":"Secretname`, `{"tcsPersonId":"Secretname"}`, `{"doctorFirstName":"Secretname"}`,
		`{"tcsPersonId":1} {"x":"Secretname"}`, `{"tcsPersonId":-4}`, `{"syncEnd":"yes"}`, `{"payload":{"doctor":{"doctorFirstName":"Secretname"}}}`,
		`{"payload":{"doctor":`, `{"payload":{"doctor":{"gmcReferenceNumber":7654321}}}`, `{"syncEnd":false}`, ``, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := reval.ParseConnection(body)
		if err != nil {
			require.True(t, errors.Is(err, reval.ErrMalformed) || errors.Is(err, reval.ErrNoPersonID), "%v", err)
			require.Regexp(t, contentFreeError, err.Error(), "the refusal may echo the message")
		} else {
			require.True(t, json.Valid(body), "accepted a syncData body that is not valid JSON: %q", body)
			if !c.SyncEnd {
				require.Positive(t, c.TCSPersonID)
				require.Equal(t, reval.DocID(c.TCSPersonID), reval.ConnectionDoc(c)["id"])
			}
			b, err := json.Marshal(c)
			require.NoError(t, err)
			again, err := reval.ParseConnection(b)
			require.NoError(t, err, "%s", b)
			require.Equal(t, c, again)
		}

		m, err := reval.ParseIndexSync(body)
		if err != nil {
			require.True(t, errors.Is(err, reval.ErrMalformed) || errors.Is(err, reval.ErrNoPayload) || errors.Is(err, reval.ErrNoGMCNumber), "%v", err)
			require.Regexp(t, contentFreeError, err.Error(), "the refusal may echo the message")
			return
		}
		require.True(t, json.Valid(body), "accepted a GMC body that is not valid JSON: %q", body)
		if !m.SyncEnd {
			require.NotNil(t, m.Payload)
			require.NotEmpty(t, m.Payload.Doctor.GMCReferenceNumber)
			require.Equal(t, m.Payload.Doctor.GMCReferenceNumber, reval.GMCDoc(*m.Payload)["gmcReferenceNumber"])
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		again, err := reval.ParseIndexSync(b)
		require.NoError(t, err, "%s", b)
		require.Equal(t, m, again)
	})
}
