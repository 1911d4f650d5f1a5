// Package bridge is the vocabulary of the Bridge downstream pipeline (Sage Bionetworks'
// BridgeDownstream, run on Temporal instead of AWS Glue): where an archive's JSON datasets and
// their Parquet tables are stored, how they are partitioned, and the names of tables. Stage 1
// (BridgeArchiveToJSON) writes NDJSON under RawJSONKey; stage 2 (BridgeJSONToParquet) turns a
// dataset's NDJSON partitions into Parquet tables under TablePrefix. No I/O here.
package bridge

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// RawJSONPrefix holds every dataset's NDJSON, as the original's json_prefix.
const RawJSONPrefix = "raw_json/"

// ParquetPrefix holds every Parquet table.
const ParquetPrefix = "parquet/"

// Partition is the original's partition of a record: its assessment and the day it was
// uploaded (S3 metadata uploadedon). Month and Day are written without zero padding, as the
// original's str(int).
type Partition struct {
	AssessmentID string `json:"assessmentid"`
	Year         int    `json:"year"`
	Month        int    `json:"month"`
	Day          int    `json:"day"`
}

// PartitionOf is the partition of a record of assessmentID uploaded at uploadedOn
// (the original's format %Y-%m-%dT%H:%M:%S.%fZ; RFC 3339 is accepted too).
func PartitionOf(assessmentID, uploadedOn string) (Partition, error) {
	if err := checkSegment("assessmentid", assessmentID); err != nil {
		return Partition{}, err
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999999Z07:00", uploadedOn)
	if err != nil {
		return Partition{}, fmt.Errorf("uploadedon %q is not a UTC timestamp like 2022-09-01T12:00:00.000Z: %w", uploadedOn, err)
	}
	t = t.UTC()
	if t.Year() < 1000 || t.Year() > 9999 {
		// The partition path holds a four-digit year (ParsePartitionPath): a record outside
		// would be written and never converted.
		return Partition{}, fmt.Errorf("uploadedon %q is outside the years 1000 to 9999", uploadedOn)
	}
	return Partition{AssessmentID: assessmentID, Year: t.Year(), Month: int(t.Month()), Day: t.Day()}, nil
}

// Path is the partition's hive-style path: assessmentid=<a>/year=<Y>/month=<M>/day=<D>/.
func (p Partition) Path() string {
	return fmt.Sprintf("assessmentid=%s/year=%d/month=%d/day=%d/", p.AssessmentID, p.Year, p.Month, p.Day)
}

// ParsePartitionPath is Path's inverse.
func ParsePartitionPath(path string) (Partition, error) {
	m := partitionRE.FindStringSubmatch(path)
	if m == nil {
		return Partition{}, fmt.Errorf("%q is not assessmentid=<a>/year=<Y>/month=<M>/day=<D>/", path)
	}
	y, _ := strconv.Atoi(m[2])
	mo, _ := strconv.Atoi(m[3])
	d, _ := strconv.Atoi(m[4])
	p := Partition{AssessmentID: m[1], Year: y, Month: mo, Day: d}
	if err := checkSegment("assessmentid", p.AssessmentID); err != nil {
		return Partition{}, err
	}
	return p, nil
}

var partitionRE = regexp.MustCompile(`^assessmentid=([^/]+)/year=([0-9]{4})/month=([0-9]{1,2})/day=([0-9]{1,2})/$`)

// DatasetPrefix is where a dataset's NDJSON is: raw_json/dataset=<id>/.
func DatasetPrefix(dataset string) string { return RawJSONPrefix + "dataset=" + dataset + "/" }

// RawJSONKey is where a record's NDJSON of a dataset is written:
// raw_json/dataset=<id>/assessmentid=<a>/year=<Y>/month=<M>/day=<D>/<recordid>.ndjson.
// A record written again lands on the same key, so redelivery never duplicates it.
func RawJSONKey(dataset string, p Partition, recordID string) string {
	return DatasetPrefix(dataset) + p.Path() + recordID + ".ndjson"
}

// TableName is the Parquet table of a dataset: dataset_<id lower>, as the original.
func TableName(dataset string) string { return "dataset_" + strings.ToLower(dataset) }

// ChildTableName is the table an array field of table becomes: <table>_<field>.
func ChildTableName(table, field string) string { return table + "_" + field }

// TablePrefix is where a table's Parquet files are: parquet/<table>/.
func TablePrefix(table string) string { return ParquetPrefix + table + "/" }

// CheckDataset accepts a dataset id as the mappings name them (letters, digits, _ and -).
func CheckDataset(dataset string) error {
	if !datasetRE.MatchString(dataset) {
		return fmt.Errorf("dataset id %q is not letters, digits, _ and - (e.g. sharedSchema_v1)", dataset)
	}
	return nil
}

var datasetRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// CheckRecordID accepts a record id that is safe as an object name and a workflow id part.
func CheckRecordID(id string) error {
	if !recordRE.MatchString(id) {
		return fmt.Errorf("record id %q is not letters, digits, _ and - (Bridge record ids look like OCJByUtSrVTYtqObYp7XZV_J)", id)
	}
	return nil
}

var recordRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// checkSegment refuses a value that would change a key's shape: empty, ".", "..", or holding
// "/", "=" or a control character.
func checkSegment(what, v string) error {
	if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/=\\") || strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return fmt.Errorf("%s %q is not usable as a partition value", what, v)
	}
	return nil
}
