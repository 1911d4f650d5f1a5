package activities

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
)

// maildevMail is what MailDev's REST API (GET /api/email) says of one received e-mail.
type maildevMail struct {
	Subject  string            `json:"subject"`
	Text     string            `json:"text"`
	Headers  map[string]string `json:"headers"`
	Envelope struct {
		To []struct {
			Address string `json:"address"`
		} `json:"to"`
	} `json:"envelope"`
}

// maildevByMessageID reads the mailbox of the stack's MailDev and returns the mails with id.
func maildevByMessageID(t *testing.T, id string) []maildevMail {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(ellaEnv(t, "OPSFLOW_MAILDEV_URL"), "/") + "/api/email")
	require.NoError(t, err, "MailDev (scripts/stack up)")
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var all []maildevMail
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&all))
	var out []maildevMail
	for _, m := range all {
		if m.Headers["message-id"] == id {
			out = append(out, m)
		}
	}
	return out
}

// E-mails go through the stack's MailDev and are read back: recipients, subject (Norwegian
// letters, encoded), the text, the same Message-ID on a retry, no secret of the worker's.
func TestEllaMailReadBackFromMailDev(t *testing.T) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	version := "v1.17." + hex.EncodeToString(b)
	secret := "pg-secret-" + hex.EncodeToString(b)
	acts := &EllaActivities{
		PG:     EllaPG{Host: "127.0.0.1", User: "ella", Password: secret, Database: "ella"},
		CLIEnv: []string{"DB_URL=postgres://ella:" + secret + "@127.0.0.1/ella"},
		Mail:   EllaMail{Addr: ellaEnv(t, "OPSFLOW_SMTP_ADDR"), From: "ELLA drift <ella-drift@ous.test>", Templates: DefaultEllaMailTemplates()},
	}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	in := EllaMailInput{Template: EllaMailPlanned, To: []string{"lege@ous.test", "bioinf@ous.test"}, Version: version, Window: "tirsdag 1. desember 16–18"}
	v, err := env.ExecuteActivity(acts.SendEllaMail, in)
	require.NoError(t, err)
	var res EllaMailResult
	require.NoError(t, v.Get(&res))
	require.True(t, strings.HasPrefix(res.MessageID, "<ella-") && strings.HasSuffix(res.MessageID, "@ous.test>"), res.MessageID)

	var got []maildevMail
	require.Eventually(t, func() bool { got = maildevByMessageID(t, res.MessageID); return len(got) == 1 }, 10*time.Second, 100*time.Millisecond)
	m := got[0]
	assert.Equal(t, "ELLA oppgraderes til "+version+": nedetid tirsdag 1. desember 16–18", m.Subject)
	var to []string
	for _, r := range m.Envelope.To {
		to = append(to, r.Address)
	}
	assert.ElementsMatch(t, in.To, to)
	assert.Contains(t, m.Text, "ELLA oppgraderes til versjon "+version+" og vil være utilgjengelig tirsdag 1. desember 16–18.")
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), secret, "no secret of the worker's in the e-mail")
	assert.NotContains(t, string(raw), "postgres://")

	// The Message-ID is made from the run, the activity and the mail: another activity (here
	// the test environment's next one) gets another, an attempt of the same one the same.
	v, err = env.ExecuteActivity(acts.SendEllaMail, in)
	require.NoError(t, err)
	var other EllaMailResult
	require.NoError(t, v.Get(&other))
	assert.NotEqual(t, res.MessageID, other.MessageID)
	assert.Equal(t, ellaMessageID(context.Background(), in, "a@ous.test"), ellaMessageID(context.Background(), in, "a@ous.test"))

	// Bad input is refused before anything is sent.
	_, err = env.ExecuteActivity(acts.SendEllaMail, EllaMailInput{Template: "nope", To: in.To, Version: version})
	requireAppError(t, err, ErrInvalidInput)
	_, err = env.ExecuteActivity(acts.SendEllaMail, EllaMailInput{Template: EllaMailBack, To: []string{"Eve <eve@ous.test>\r\nBcc: x@y.z"}, Version: version})
	requireAppError(t, err, ErrInvalidInput)
}
