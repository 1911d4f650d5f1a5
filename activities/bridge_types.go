package activities

// Inputs and results of the Bridge Parquet stage (BridgeJSONToParquet), stage 2 of the
// Bridge downstream pipeline: BridgeParquetActivities.

// BridgeDatasetInput names a dataset of the Bridge pipeline (e.g. sharedSchema_v1), as in
// its NDJSON prefix raw_json/dataset=<id>/.
type BridgeDatasetInput struct {
	Dataset string
}

// StalePartitions are the partitions of a dataset whose NDJSON differs from what was last
// converted (or that were never converted, or whose NDJSON is gone), sorted.
type StalePartitions struct {
	// Partitions are partition paths, e.g. "assessmentid=dccs/year=2022/month=9/day=1/".
	Partitions []string
	// Records counts the NDJSON objects (one per record) in the stale partitions.
	Records int
	// Unexpected are keys under the dataset's prefix that are not
	// <partition path><recordid>.ndjson: never converted, listed so that nothing is dropped
	// silently (at most MaxListed).
	Unexpected []string
}

// ConvertPartitionInput is one partition of a dataset to convert to Parquet.
type ConvertPartitionInput struct {
	Dataset string
	// Partition is a partition path as StalePartitions lists it.
	Partition string
}

// ConvertPartitionResult tells what a partition's conversion wrote.
type ConvertPartitionResult struct {
	// Records counts the NDJSON objects converted (Lines their lines, the root rows).
	Records int
	Lines   int64
	// Rows is each table's row count in the partition (tables without rows are left out).
	Rows map[string]int64
	// Files are the objects written: each table's parts and _schema.json.
	Files []string
	// Conflicts is empty when the conversion succeeded: a type conflict fails it with
	// ErrBridgeTypeConflict, whose details hold these descriptions.
	Conflicts []string
}

// CompletenessResult is the original's bootstrap diff: which records of the dataset's NDJSON
// are not in its Parquet root table.
type CompletenessResult struct {
	// Records counts the dataset's records (NDJSON objects).
	Records int
	// Missing are the record ids not in the root table's recordid column, sorted (at most
	// MaxListed; MissingCount has them all). Records of partitions not converted since
	// their NDJSON changed count as missing.
	Missing      []string
	MissingCount int
}
