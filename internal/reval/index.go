package reval

import (
	"time"

	"github.com/opsflow/opsflow/internal/esclient"
)

// Names of the master index family and the aliases on it (integration
// config/EsConstant.java). The UI and the connection service read only through the
// aliases, which is what makes a build-then-switch rebuild invisible to users.
const (
	MasterDoctorAlias       = "masterdoctorindex"
	CurrentConnectionsAlias = "current_connections"
	DiscrepanciesAlias      = "discrepancies"
	RecommendationsAlias    = "recommendations"

	// MasterDoctorIndexPattern matches the timestamped builds.
	MasterDoctorIndexPattern = MasterDoctorAlias + "-*"
	// DiscrepanciesScript is the discrepancies alias filter script, exactly as the
	// integration service adds it.
	DiscrepanciesScript = "doc['tcsDesignatedBody.keyword'] != doc['designatedBody.keyword']"
)

// AliasNames are the names the services read through, in a fixed order; one switch moves
// all of them.
var AliasNames = []string{MasterDoctorAlias, CurrentConnectionsAlias, DiscrepanciesAlias, RecommendationsAlias}

// MasterDoctorIndexName returns masterdoctorindex-<yyyyMMddHHmmss> for t in UTC.
// Timestamped names let a new build coexist with the live one until the alias switch.
func MasterDoctorIndexName(t time.Time) string {
	return MasterDoctorAlias + "-" + t.UTC().Format("20060102150405")
}

// CurrentConnectionsFilter is the current_connections alias filter: doctors GMC confirmed.
func CurrentConnectionsFilter() map[string]any {
	return map[string]any{"term": map[string]any{"existsInGmc": true}}
}

// DiscrepanciesFilter is the discrepancies alias filter: the TIS designated body differs
// from the GMC one.
func DiscrepanciesFilter() map[string]any {
	return map[string]any{"script": map[string]any{"script": DiscrepanciesScript}}
}

// AddAliases returns the add actions that make index the live master index:
// masterdoctorindex and recommendations (unfiltered), current_connections
// (CurrentConnectionsFilter) and discrepancies (DiscrepanciesFilter). Having them in one
// place means the switch can never forget one (the old "discrepancies alias needs manually
// re-adding" failure). Combine with remove actions for the old index and pass everything to
// esclient's SwitchAliases in one call.
func AddAliases(index string) []esclient.AliasAction {
	return []esclient.AliasAction{
		{Add: true, Index: index, Alias: MasterDoctorAlias},
		{Add: true, Index: index, Alias: CurrentConnectionsAlias, Filter: CurrentConnectionsFilter()},
		{Add: true, Index: index, Alias: DiscrepanciesAlias, Filter: DiscrepanciesFilter()},
		{Add: true, Index: index, Alias: RecommendationsAlias},
	}
}

// textKeyword is what Elasticsearch's default dynamic mapping produces for a string: text
// plus a .keyword sub-field. Spring Data left most MasterDoctorView strings unannotated, so
// the alias filters and the services' queries rely on these .keyword sub-fields.
func textKeyword() map[string]any {
	return map[string]any{
		"type": "text",
		"fields": map[string]any{
			"keyword": map[string]any{"type": "keyword", "ignore_above": 256},
		},
	}
}

// textFielddata is an @Field(type=Text, fielddata=true) field (sortable in the UI). The
// .keyword sub-field is added as well so exact-match and duplicate checks on e.g.
// gmcReferenceNumber.keyword work.
func textFielddata() map[string]any {
	m := textKeyword()
	m["fielddata"] = true
	return m
}

func dateField(format string) map[string]any {
	return map[string]any{"type": "date", "format": format}
}

// MasterDoctorMapping returns the CreateIndex body for a masterdoctorindex build: the
// MasterDoctorView mapping (integration sync/view/MasterDoctorView.java). It is explicit
// rather than dynamic so a new build has exactly the field types the alias filters and
// consumers expect (existsInGmc boolean for current_connections, .keyword sub-fields for
// discrepancies), whatever the first document looks like. Dynamic mapping stays on for
// fields not listed (as in the Spring Data original).
func MasterDoctorMapping() map[string]any {
	const day = "uuuu-MM-dd"
	props := map[string]any{
		"id":                     textKeyword(),
		"tcsPersonId":            map[string]any{"type": "long"},
		"gmcReferenceNumber":     textFielddata(),
		"doctorFirstName":        textFielddata(),
		"doctorLastName":         textFielddata(),
		"programmeName":          textFielddata(),
		"submissionDate":         dateField(day),
		"membershipType":         textKeyword(),
		"designatedBody":         textKeyword(),
		"gmcStatus":              textKeyword(),
		"tisStatus":              textKeyword(),
		"admin":                  textKeyword(),
		"lastUpdatedDate":        dateField(day),
		"underNotice":            textKeyword(),
		"tcsDesignatedBody":      textKeyword(),
		"programmeOwner":         textKeyword(),
		"curriculumEndDate":      dateField(day),
		"membershipStartDate":    dateField(day),
		"membershipEndDate":      dateField(day),
		"placementGrade":         textKeyword(),
		"existsInGmc":            map[string]any{"type": "boolean"},
		"updatedBy":              textKeyword(),
		"lastConnectionDateTime": dateField("uuuu-MM-dd'T'HH:mm:ss.SSS"),
		"hiddenDiscrepancies": map[string]any{
			"type": "nested",
			"properties": map[string]any{
				"hiddenForDesignatedBodyCode": textKeyword(),
			},
		},
	}
	return map[string]any{
		"mappings": map[string]any{"properties": props},
	}
}
