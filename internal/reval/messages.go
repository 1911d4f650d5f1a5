// Package reval is the revalidation sync's own vocabulary, in one place: the services'
// sync messages (as TCS and the recommendation service send them) and their pure mapping to
// MasterDoctorView documents (messages.go), the master index family, its mapping and its
// aliases with their filters (index.go), and the RabbitMQ exchange, queues, routing keys and
// commands and the SQS queue of the GMC leg (topology.go). The activities, the workflows,
// the simulators (internal/revalsim), the benchmark and the tests spell these names only
// through this package; the clients below it (esclient, amqpx, sqsclient) know no procedure.
// Everything here is pure and unit-tested without any server.
package reval

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/opsflow/opsflow/internal/jsonstrict"
)

// ConnectionInfo is TCS's ConnectionInfoDto: one per doctor on
// reval.queue.connection.syncdata, then one with SyncEnd set.
type ConnectionInfo struct {
	TCSPersonID                  int64  `json:"tcsPersonId"`
	GMCReferenceNumber           string `json:"gmcReferenceNumber"`
	DoctorFirstName              string `json:"doctorFirstName"`
	DoctorLastName               string `json:"doctorLastName"`
	SubmissionDate               string `json:"submissionDate,omitempty"`
	ProgrammeName                string `json:"programmeName"`
	ProgrammeMembershipType      string `json:"programmeMembershipType"`
	DesignatedBody               string `json:"designatedBody"`
	TCSDesignatedBody            string `json:"tcsDesignatedBody"`
	ProgrammeOwner               string `json:"programmeOwner"`
	PlacementGrade               string `json:"placementGrade"`
	ProgrammeMembershipStartDate string `json:"programmeMembershipStartDate"`
	ProgrammeMembershipEndDate   string `json:"programmeMembershipEndDate"`
	CurriculumEndDate            string `json:"curriculumEndDate"`
	DataSource                   string `json:"dataSource"`
	SyncEnd                      bool   `json:"syncEnd,omitempty"`
	// Count is how many doctors the producer sent, on the syncEnd message only. The real
	// TCS does not send it (opsflow's simulator does); consumers must work without it.
	Count int64 `json:"count,omitempty"`
}

// DoctorsForDB is the recommendation service's view of a doctor from GMC.
type DoctorsForDB struct {
	GMCReferenceNumber     string `json:"gmcReferenceNumber"`
	DoctorFirstName        string `json:"doctorFirstName"`
	DoctorLastName         string `json:"doctorLastName"`
	SubmissionDate         string `json:"submissionDate"`
	DateAdded              string `json:"dateAdded"`
	UnderNotice            string `json:"underNotice"`
	Sanction               string `json:"sanction"`
	DoctorStatus           string `json:"doctorStatus"`
	LastUpdatedDate        string `json:"lastUpdatedDate"`
	DesignatedBodyCode     string `json:"designatedBodyCode"`
	Admin                  string `json:"admin,omitempty"`
	ExistsInGMC            bool   `json:"existsInGmc"`
	GMCLastUpdatedDateTime string `json:"gmcLastUpdatedDateTime"`
}

// RevalidationSummary is the recommendation service's RevalidationSummaryDto.
type RevalidationSummary struct {
	Doctor     DoctorsForDB `json:"doctor"`
	GMCOutcome string       `json:"gmcOutcome,omitempty"`
}

// IndexSyncMessage is one GMC-leg SQS message: a doctor's summary, or the end marker.
type IndexSyncMessage struct {
	Payload *RevalidationSummary `json:"payload"`
	SyncEnd bool                 `json:"syncEnd"`
	// Count is how many doctors were sent, on the syncEnd message only (opsflow
	// simulator extension; optional).
	Count int64 `json:"count,omitempty"`
}

// Errors that name what is wrong with a message, without its (personal) content.
var (
	ErrMalformed   = errors.New("not valid JSON of the expected shape")
	ErrNoPersonID  = errors.New("no tcsPersonId")
	ErrNoGMCNumber = errors.New("no gmcReferenceNumber in the doctor")
	ErrNoPayload   = errors.New("neither a payload nor syncEnd")
)

// ParseConnection decodes one syncData message. A doctor needs a tcsPersonId, because
// it is the document id that makes a re-delivered message overwrite, never duplicate.
func ParseConnection(body []byte) (ConnectionInfo, error) {
	var c ConnectionInfo
	if err := jsonstrict.Decode(body, &c, jsonstrict.Options{}); err != nil {
		return c, fmt.Errorf("%w: %s", ErrMalformed, jsonErrorWithoutContent(err))
	}
	if c.SyncEnd {
		return c, nil
	}
	if c.TCSPersonID <= 0 {
		return c, ErrNoPersonID
	}
	return c, nil
}

// ParseIndexSync decodes one GMC-leg message.
func ParseIndexSync(body []byte) (IndexSyncMessage, error) {
	var m IndexSyncMessage
	if err := jsonstrict.Decode(body, &m, jsonstrict.Options{}); err != nil {
		return m, fmt.Errorf("%w: %s", ErrMalformed, jsonErrorWithoutContent(err))
	}
	if m.SyncEnd {
		return m, nil
	}
	if m.Payload == nil {
		return m, ErrNoPayload
	}
	if m.Payload.Doctor.GMCReferenceNumber == "" {
		return m, ErrNoGMCNumber
	}
	return m, nil
}

// jsonErrorWithoutContent keeps the position and kind of a JSON error but never echoes
// message content (names, numbers) into errors, logs or workflow history.
func jsonErrorWithoutContent(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var trailing *jsonstrict.TrailingDataError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		// typ.Value is "number 4711.0" for a number that does not fit: the value itself, so
		// only its JSON kind (the first word) is told.
		kind, _, _ := strings.Cut(typ.Value, " ")
		return fmt.Sprintf("field %q must be %s, got %s", typ.Field, typ.Type, kind)
	case errors.As(err, &trailing):
		return "trailing data after the JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated or empty"
	}
	return "invalid"
}

// DocID is the document id of a TCS doctor: its tcsPersonId.
func DocID(personID int64) string { return strconv.FormatInt(personID, 10) }

// GMCOnlyDocID is the document id of a doctor GMC knows but TCS did not send (new to
// TIS). It is derived from the GMC number, so a re-delivered message updates the same
// document instead of creating a duplicate.
func GMCOnlyDocID(gmc string) string { return "gmc-" + gmc }

// ConnectionDoc maps a ConnectionInfoDto to the MasterDoctorView fields TCS owns.
// existsInGmc is left out on purpose: only the GMC leg sets it, so current_connections
// (existsInGmc: true) never lists a doctor GMC has not confirmed.
func ConnectionDoc(c ConnectionInfo) map[string]any {
	d := map[string]any{
		"id":                 DocID(c.TCSPersonID),
		"tcsPersonId":        c.TCSPersonID,
		"gmcReferenceNumber": c.GMCReferenceNumber,
		"doctorFirstName":    c.DoctorFirstName,
		"doctorLastName":     c.DoctorLastName,
		"programmeName":      c.ProgrammeName,
		"membershipType":     c.ProgrammeMembershipType,
		"designatedBody":     c.DesignatedBody,
		"tcsDesignatedBody":  c.TCSDesignatedBody,
		"programmeOwner":     c.ProgrammeOwner,
		"placementGrade":     c.PlacementGrade,
	}
	optDate(d, "submissionDate", c.SubmissionDate)
	optDate(d, "membershipStartDate", c.ProgrammeMembershipStartDate)
	optDate(d, "membershipEndDate", c.ProgrammeMembershipEndDate)
	optDate(d, "curriculumEndDate", c.CurriculumEndDate)
	return d
}

// GMCDoc maps a RevalidationSummaryDto to the partial update the integration service
// applies (DoctorUpsertElasticSearchService's GMC fields): names, GMC number,
// submission date, tisStatus, designatedBody, admin, lastUpdatedDate, underNotice,
// existsInGmc and gmcStatus.
func GMCDoc(s RevalidationSummary) map[string]any {
	g := s.Doctor
	d := map[string]any{
		"gmcReferenceNumber": g.GMCReferenceNumber,
		"doctorFirstName":    g.DoctorFirstName,
		"doctorLastName":     g.DoctorLastName,
		"tisStatus":          g.DoctorStatus,
		"designatedBody":     g.DesignatedBodyCode,
		"underNotice":        g.UnderNotice,
		"existsInGmc":        g.ExistsInGMC,
		"gmcStatus":          s.GMCOutcome,
	}
	if g.Admin != "" {
		d["admin"] = g.Admin
	}
	optDate(d, "submissionDate", g.SubmissionDate)
	optDate(d, "lastUpdatedDate", g.LastUpdatedDate)
	return d
}

// optDate sets a date field only when present: an empty string is not a date and
// Elasticsearch would refuse the whole document.
func optDate(d map[string]any, field, v string) {
	if v != "" {
		d[field] = v
	}
}

// GMCNumberOf extracts gmcReferenceNumber from a document source ("" if absent), for
// building the GMC-number → document map of a build.
func GMCNumberOf(source []byte) string {
	var d struct {
		GMC string `json:"gmcReferenceNumber"`
	}
	if json.Unmarshal(source, &d) != nil {
		return ""
	}
	return d.GMC
}
