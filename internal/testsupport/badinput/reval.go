package badinput

import (
	"encoding/json"
	"fmt"
	"strings"
)

// RevalExchange is a reval/ case: the raw bodies TCS answers syncStart with (RabbitMQ,
// reval.connection.syncdata) and the recommendation service answers gmcSyncStart with (SQS),
// in order. Bodies are strings so a case can hold what is not JSON at all.
type RevalExchange struct {
	TCS []string `json:"tcs"`
	GMC []string `json:"gmc"`
}

// RevalDoctors is how many doctors the corpus's TCS and GMC answers hold; the test's live
// index holds as many, so only the bad message decides the outcome.
const RevalDoctors = 3

// revalGMCNumber is doctor i's GMC number (i from 1).
func revalGMCNumber(i int) string { return fmt.Sprintf("70%05d", i) }

func tcsDoctor(i int) string {
	return fmt.Sprintf(`{"tcsPersonId":%d,"gmcReferenceNumber":%q,"doctorFirstName":"Test","doctorLastName":"Doctor%d",`+
		`"programmeName":"General Practice","programmeMembershipType":"SUBSTANTIVE","designatedBody":"1-AIIDWA",`+
		`"tcsDesignatedBody":"1-AIIDWA","programmeOwner":"HEE London","placementGrade":"ST1","dataSource":"TCS"}`,
		900000+i, revalGMCNumber(i), i)
}

func gmcSummary(i int) string {
	return fmt.Sprintf(`{"payload":{"doctor":{"gmcReferenceNumber":%q,"doctorFirstName":"Test","doctorLastName":"Doctor%d",`+
		`"submissionDate":"2026-06-01","dateAdded":"2020-01-01","underNotice":"NO","sanction":"","doctorStatus":"NOT_STARTED",`+
		`"lastUpdatedDate":"2026-01-01","designatedBodyCode":"1-AIIDWA","existsInGmc":true,"gmcLastUpdatedDateTime":"2026-01-01T00:00:00"},`+
		`"gmcOutcome":"Under Review"},"syncEnd":false}`, revalGMCNumber(i), i)
}

// GoodRevalExchange is a valid answer of both services: RevalDoctors doctors, each syncEnd
// counting them. The test builds its live index from it; each case breaks one message of it.
func GoodRevalExchange() RevalExchange {
	var ex RevalExchange
	for i := 1; i <= RevalDoctors; i++ {
		ex.TCS = append(ex.TCS, tcsDoctor(i))
		ex.GMC = append(ex.GMC, gmcSummary(i))
	}
	ex.TCS = append(ex.TCS, fmt.Sprintf(`{"syncEnd":true,"count":%d}`, RevalDoctors))
	ex.GMC = append(ex.GMC, fmt.Sprintf(`{"payload":null,"syncEnd":true,"count":%d}`, RevalDoctors))
	return ex
}

func revalCases() []Case {
	tcs := func(i int, body string) RevalExchange { ex := GoodRevalExchange(); ex.TCS[i] = body; return ex }
	gmc := func(i int, body string) RevalExchange { ex := GoodRevalExchange(); ex.GMC[i] = body; return ex }
	end := RevalDoctors // index of the syncEnds
	doc2 := tcsDoctor(2)
	cases := []struct {
		file, expect, bad string
		ex                RevalExchange
	}{
		{"tcs-malformed.json", "MalformedSyncMessage", "TCS's second doctor is cut in the middle of its JSON", tcs(1, doc2[:len(doc2)/2])},
		{"tcs-too-deep.json", "MalformedSyncMessage", "a TCS message nests 20 000 arrays", tcs(1, string(deepJSON(20000)))},
		{"tcs-wrong-types.json", "MalformedSyncMessage", "a tcsPersonId that is a string", tcs(1, strings.Replace(doc2, `"tcsPersonId":900002`, `"tcsPersonId":"900002"`, 1))},
		{"tcs-no-person-id.json", "MalformedSyncMessage", "a doctor without tcsPersonId (its document id)", tcs(1, strings.Replace(doc2, `"tcsPersonId":900002,`, ``, 1))},
		{"tcs-trailing-data.json", "MalformedSyncMessage", "two JSON objects in one message", tcs(1, doc2+doc2)},
		{"tcs-count-too-high.json", "SyncIncomplete", "TCS's syncEnd announces 5 doctors after sending 3", tcs(end, `{"syncEnd":true,"count":5}`)},
		{"tcs-count-too-low.json", "SyncIncomplete", "TCS's syncEnd announces 1 doctor after sending 3", tcs(end, `{"syncEnd":true,"count":1}`)},
		{"gmc-malformed.json", "MalformedSyncMessage", "a GMC summary cut in the middle of its JSON", gmc(1, gmcSummary(2)[:40])},
		{"gmc-wrong-types.json", "MalformedSyncMessage", "existsInGmc is a string", gmc(1, strings.Replace(gmcSummary(2), `"existsInGmc":true`, `"existsInGmc":"yes"`, 1))},
		{"gmc-no-gmc-number.json", "MalformedSyncMessage", "a summary without gmcReferenceNumber", gmc(1, strings.Replace(gmcSummary(2), `"gmcReferenceNumber":"7000002",`, ``, 1))},
		{"gmc-no-payload.json", "MalformedSyncMessage", "neither a payload nor syncEnd", gmc(1, `{"payload":null,"syncEnd":false}`)},
		{"gmc-count-too-high.json", "SyncIncomplete", "the GMC syncEnd announces 10 doctors after sending 3", gmc(end, `{"payload":null,"syncEnd":true,"count":10}`)},
	}
	out := make([]Case, 0, len(cases))
	for _, c := range cases {
		b, err := json.MarshalIndent(c.ex, "", "  ")
		must(err)
		out = append(out, Case{Path: "reval/" + c.file, Procedure: "RevalidationSync",
			Feed:   "a stand-in TCS answers syncStart with `tcs` (RabbitMQ) and a stand-in recommendation service answers gmcSyncStart with `gmc` (SQS), then `opsflow sync --wait` against a live index of the same doctors",
			Expect: c.expect, Bad: c.bad, files: map[string][]byte{"": b}})
	}
	return out
}
