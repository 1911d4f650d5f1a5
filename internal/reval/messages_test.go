package reval

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConnection(t *testing.T) {
	c, err := ParseConnection([]byte(`{"tcsPersonId":123,"gmcReferenceNumber":"7654321","doctorFirstName":"Ava","submissionDate":"2026-01-02"}`))
	require.NoError(t, err)
	assert.Equal(t, int64(123), c.TCSPersonID)
	assert.Equal(t, "7654321", c.GMCReferenceNumber)

	end, err := ParseConnection([]byte(`{"syncEnd":true,"count":42}`))
	require.NoError(t, err)
	assert.True(t, end.SyncEnd)
	assert.Equal(t, int64(42), end.Count)

	end, err = ParseConnection([]byte(`{"syncEnd":true}`))
	require.NoError(t, err, "the real TCS sends no count")
	assert.Zero(t, end.Count)
}

func TestParseConnectionRefusesBadMessagesWithoutEchoingThem(t *testing.T) {
	for name, body := range map[string]string{
		"truncated":  `{"tcsPersonId":1,"doctorFirstName":"Secretname`,
		"not json":   `Secretname`,
		"wrong type": `{"tcsPersonId":"Secretname"}`,
		"no id":      `{"doctorFirstName":"Secretname"}`,
		"trailing":   `{"tcsPersonId":1} {"x":"Secretname"}`,
		"empty":      ``,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseConnection([]byte(body))
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrNoPersonID), err.Error())
			assert.NotContains(t, err.Error(), "Secretname")
		})
	}
}

func TestParseIndexSync(t *testing.T) {
	m, err := ParseIndexSync([]byte(`{"payload":{"doctor":{"gmcReferenceNumber":"1000001","existsInGmc":true},"gmcOutcome":"Approved"},"syncEnd":false}`))
	require.NoError(t, err)
	assert.Equal(t, "1000001", m.Payload.Doctor.GMCReferenceNumber)

	m, err = ParseIndexSync([]byte(`{"payload":null,"syncEnd":true,"count":7}`))
	require.NoError(t, err)
	assert.True(t, m.SyncEnd)
	assert.Equal(t, int64(7), m.Count)

	_, err = ParseIndexSync([]byte(`{"syncEnd":false}`))
	assert.ErrorIs(t, err, ErrNoPayload)
	_, err = ParseIndexSync([]byte(`{"payload":{"doctor":{"doctorFirstName":"Secretname"}}}`))
	assert.ErrorIs(t, err, ErrNoGMCNumber)
	_, err = ParseIndexSync([]byte(`{"payload":{"doctor":`))
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestConnectionDocMapsTCSFieldsAndLeavesExistsInGMCToGMC(t *testing.T) {
	d := ConnectionDoc(ConnectionInfo{TCSPersonID: 100001, GMCReferenceNumber: "1000001", DoctorFirstName: "Ava",
		ProgrammeMembershipType: "LAT", DesignatedBody: "1-AIIDR8", TCSDesignatedBody: "1-AIIDSA",
		ProgrammeMembershipStartDate: "2025-01-01", CurriculumEndDate: ""})
	assert.Equal(t, "100001", d["id"])
	assert.Equal(t, int64(100001), d["tcsPersonId"])
	assert.Equal(t, "LAT", d["membershipType"])
	assert.Equal(t, "2025-01-01", d["membershipStartDate"])
	assert.NotContains(t, d, "curriculumEndDate", "an empty date is left out, not sent as \"\"")
	assert.NotContains(t, d, "existsInGmc")
	assert.Equal(t, "1-AIIDSA", d["tcsDesignatedBody"])
}

func TestGMCDocIsThePartialUpdateOfTheIntegrationService(t *testing.T) {
	d := GMCDoc(RevalidationSummary{Doctor: DoctorsForDB{GMCReferenceNumber: "1000001", DoctorStatus: "Not started",
		DesignatedBodyCode: "1-AIIDR8", UnderNotice: "NO", ExistsInGMC: false, LastUpdatedDate: "2026-03-01"}, GMCOutcome: "Approved"})
	assert.Equal(t, false, d["existsInGmc"], "false is set explicitly, so the doc counts as seen by GMC")
	assert.Equal(t, "1-AIIDR8", d["designatedBody"])
	assert.Equal(t, "Not started", d["tisStatus"])
	assert.Equal(t, "Approved", d["gmcStatus"])
	assert.NotContains(t, d, "submissionDate")
	assert.NotContains(t, d, "tcsPersonId", "GMC never overwrites the TCS id")
	for k := range d {
		assert.False(t, strings.HasPrefix(k, "tcs"), k)
	}
	assert.Equal(t, "gmc-1000001", GMCOnlyDocID("1000001"))
	assert.Equal(t, "42", DocID(42))
}
