package activities

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsflow/opsflow/internal/bridge"
)

// BridgeDatasetsPage is a page of the datasets that have NDJSON under raw_json/.
type BridgeDatasetsPage struct {
	Datasets []string `json:"datasets"`
	// Refused are prefixes under raw_json/ that name no valid dataset (never converted).
	Refused    []string `json:"refused,omitempty"`
	NextCursor string   `json:"nextCursor,omitempty"`
}

// ListBridgeDatasets lists the datasets of the data bucket (raw_json/dataset=<id>/ prefixes), a
// page at a time, so the scheduled scan starts one conversion per dataset.
func (a *BridgeParquetActivities) ListBridgeDatasets(ctx context.Context, page ScanPage) (BridgeDatasetsPage, error) {
	if page.Limit <= 0 {
		return BridgeDatasetsPage{}, permanent(ErrInvalidInput, nil, "ListBridgeDatasets: page limit %d is not positive", page.Limit)
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(bridge.RawJSONPrefix + "dataset="),
		Delimiter: aws.String("/"), MaxKeys: aws.Int32(int32(page.Limit))}
	if page.Cursor != "" { // the listing's continuation token: a StartAfter key would list a dataset again
		in.ContinuationToken = aws.String(page.Cursor)
	}
	out, err := a.S3.ListObjectsV2(ctx, in)
	if err != nil {
		return BridgeDatasetsPage{}, err
	}
	var res BridgeDatasetsPage
	for _, p := range out.CommonPrefixes {
		prefix := aws.ToString(p.Prefix)
		ds := strings.TrimSuffix(strings.TrimPrefix(prefix, bridge.RawJSONPrefix+"dataset="), "/")
		if bridge.CheckDataset(ds) != nil {
			res.Refused = append(res.Refused, prefix)
			continue
		}
		res.Datasets = append(res.Datasets, ds)
	}
	if aws.ToBool(out.IsTruncated) {
		res.NextCursor = aws.ToString(out.NextContinuationToken)
	}
	return res, nil
}
