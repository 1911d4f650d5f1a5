// Package revalsim plays the peers of the revalidation sync for tests, the demo and the
// benchmark: a TCS that answers syncStart with one ConnectionInfoDto per doctor and a
// syncEnd on RabbitMQ, and a recommendation service that answers gmcSyncStart with one
// IndexSyncMessage per doctor and a syncEnd on SQS (the GMC leg as it ran until late 2025).
// Doctors are generated deterministically from a seed, with realistic field values.
package revalsim

import (
	"fmt"
	"github.com/opsflow/opsflow/internal/reval"
	"math/rand/v2"
	"time"
)

// ConnectionInfo is the services' message type (internal/reval), so the simulators send
// exactly what the sync decodes.
type ConnectionInfo = reval.ConnectionInfo

// DoctorsForDB is the services' message type (internal/reval), so the simulators send
// exactly what the sync decodes.
type DoctorsForDB = reval.DoctorsForDB

// RevalidationSummary is the services' message type (internal/reval), so the simulators send
// exactly what the sync decodes.
type RevalidationSummary = reval.RevalidationSummary

var (
	firstNames = []string{"Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Ivy", "Leo", "Freya", "Oscar", "Priya", "Mohammed", "Chloe", "Kwame", "Sofia", "Ravi", "Grace", "Tomasz"}
	lastNames  = []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Khan", "Hughes", "Edwards", "Green", "Nowak"}
	bodies     = []string{"1-AIIDR8", "1-AIIDSA", "1-AIIDVS", "1-AIIDWA", "1-AIIDWT", "1-AIIDH1", "1-AIIDMQ", "1-AIIDQQ"}
	programmes = []string{"General Practice", "Core Medical Training", "Anaesthetics", "Paediatrics", "General Surgery", "Psychiatry", "Emergency Medicine", "Obstetrics and Gynaecology"}
	grades     = []string{"F1", "F2", "CT1", "CT2", "ST3", "ST4", "ST5", "GPST1"}
	types      = []string{"SUBSTANTIVE", "LAT", "MILITARY", "VISITOR"}
	outcomes   = []string{"Approved", "Under Review", "Rejected", ""}
	notices    = []string{"NO", "YES", "ON_HOLD"}
)

// Doctor is everything both simulators know about doctor i, so the TCS and GMC sides of
// one doctor always agree (same GMC number, names and designated body).
type Doctor struct {
	Connection ConnectionInfo
	GMC        RevalidationSummary
}

// Generate returns doctor i of a population; the same seed and i give the same doctor, so
// tests can check what a consumer stored without keeping what the simulators sent.
func Generate(seed uint64, i int) Doctor {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := func(offset int) string { return base.AddDate(0, 0, offset).Format("2006-01-02") }
	gmc := fmt.Sprintf("%07d", 1000000+i) // unique per doctor
	first, last := pick(firstNames), pick(lastNames)
	db := pick(bodies)
	tcsDB := db
	if r.IntN(20) == 0 { // ~5% discrepancies between TCS and GMC designated body
		tcsDB = pick(bodies)
	}
	start := -r.IntN(1500)
	c := ConnectionInfo{
		TCSPersonID: int64(100000 + i), GMCReferenceNumber: gmc, DoctorFirstName: first, DoctorLastName: last,
		SubmissionDate: day(r.IntN(700)), ProgrammeName: pick(programmes), ProgrammeMembershipType: pick(types),
		DesignatedBody: db, TCSDesignatedBody: tcsDB, ProgrammeOwner: "Health Education England " + pick([]string{"North West", "London", "Thames Valley", "Wessex"}),
		PlacementGrade: pick(grades), ProgrammeMembershipStartDate: day(start), ProgrammeMembershipEndDate: day(start + 1095),
		CurriculumEndDate: day(start + 1460), DataSource: "TCS",
	}
	g := RevalidationSummary{
		Doctor: DoctorsForDB{
			GMCReferenceNumber: gmc, DoctorFirstName: first, DoctorLastName: last, SubmissionDate: c.SubmissionDate,
			DateAdded: day(start), UnderNotice: pick(notices), Sanction: "No", DoctorStatus: "Not started",
			LastUpdatedDate: day(r.IntN(300)), DesignatedBodyCode: db, ExistsInGMC: r.IntN(10) != 0,
			GMCLastUpdatedDateTime: base.Add(time.Duration(r.IntN(300*24)) * time.Hour).Format("2006-01-02T15:04:05"),
		},
		GMCOutcome: pick(outcomes),
	}
	return Doctor{Connection: c, GMC: g}
}
