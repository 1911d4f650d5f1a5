// Package limsexport is the lims-exporter's vocabulary: the LIMS export queue (Queue, with a
// Clarity LIMS and a directory implementation), what a queued sample or analysis is
// (Description, the .sample and .analysis documents) and the rules it must pass before
// anything is written, and the Writer that turns one into a package of the export area.
package limsexport

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/opsflow/opsflow/internal/samplepkg"
)

// Entry is one item of the export queue. ID is the LIMS's id of it (a Clarity artifact
// LIMS id, a queue file's name); Name is the package it is exported as, "" when the
// listing could not read it (Describe then says why).
type Entry struct {
	ID   string
	Kind samplepkg.Kind
	Name string
}

// Queue is the LIMS's export queue as the activities use it.
type Queue interface {
	// Pending lists at most limit items after cursor ("" = from the start) and the cursor of
	// the next page ("" when this was the last). An item whose document is malformed is
	// listed with an empty Name, so that exporting it reports the problem.
	Pending(ctx context.Context, cursor string, limit int) ([]Entry, string, error)
	// Describe reads what the item's package holds. Its errors wrap ErrMalformed (and the
	// other sentinels) when retrying cannot help.
	Describe(ctx context.Context, e Entry) (Description, error)
	// MarkExported takes the item off the queue; marking an item marked before is no error.
	MarkExported(ctx context.Context, e Entry) error
}

// Sentinels the activities map to their non-retryable error types (errors.Is).
var (
	ErrMalformed        = errors.New("malformed LIMS document")
	ErrNoReads          = errors.New("sample has no reads")
	ErrUnsafeName       = errors.New("unsafe name")
	ErrChecksumMismatch = errors.New("MD5 differs from the LIMS's")
	ErrConflict         = errors.New("the export area holds a different package of that name")
	ErrSourceChanged    = errors.New("read changed while it was copied")
	// ErrBusy (retryable): another attempt is writing the same package.
	ErrBusy = errors.New("another attempt is writing this package")
)

// itemError names the queue item (by its LIMS id, never the sample's name) and wraps kind.
func itemError(id string, kind error, format string, args ...any) error {
	return fmt.Errorf("LIMS item %s: %w: %s", id, kind, fmt.Sprintf(format, args...))
}

// Stats are a sample's sequencing statistics in its .sample.
type Stats struct {
	Reads                int64   `json:"reads"`
	Q30BasesPct          float64 `json:"q30_bases_pct"`
	MeanQualScore        float64 `json:"mean_qual_score"`
	PerfectIndexReadsPct float64 `json:"perfect_index_reads_pct"`
	OneMismatchIndexPct  float64 `json:"one_mismatch_index_pct"`
}

// SampleDoc is the <name>.sample of a sample package, the document the automation system
// and the import (samplepkg.ParseSampleFile) read. Reads is filled by the Writer from what it
// copied.
type SampleDoc struct {
	Name         string           `json:"name"`
	SampleID     string           `json:"sample_id"`
	Project      string           `json:"project"`
	ProjectDate  string           `json:"project_date"`
	Flowcell     string           `json:"flowcell"`
	FlowcellID   string           `json:"flowcell_id"`
	SequencerID  string           `json:"sequencer_id"`
	Lane         int              `json:"lane"`
	Index        string           `json:"index"`
	Capturekit   string           `json:"capturekit"`
	SequenceDate string           `json:"sequence_date"`
	Taqman       string           `json:"taqman"`
	Stats        Stats            `json:"stats"`
	Reads        []samplepkg.Read `json:"reads"`
}

// AnalysisParams are an analysis's parameters.
type AnalysisParams struct {
	Genepanel string `json:"genepanel"`
	Taqman    bool   `json:"taqman"`
}

// AnalysisDoc is the <name>.analysis of an analysis package: which pipeline runs on which
// samples (their package names), with which gene panel, at which priority.
type AnalysisDoc struct {
	Name     string         `json:"name"`
	Type     string         `json:"type"`
	Samples  []string       `json:"samples"`
	Params   AnalysisParams `json:"params"`
	Priority int            `json:"priority"`
}

// SourceRead is one read to copy into a sample package: Source is the file on disk (an
// absolute path once a Queue described it), Path its name inside the package, MD5 the
// LIMS's checksum of it ("" when the LIMS gave none).
type SourceRead struct {
	Source string
	Path   string
	MD5    string
}

// Description is what one queued item's package holds: Sample and Reads for a sample,
// Analysis for an analysis.
type Description struct {
	ID       string
	Kind     samplepkg.Kind
	Sample   *SampleDoc
	Analysis *AnalysisDoc
	Reads    []SourceRead
}

// Name is the package name.
func (d Description) Name() string {
	switch {
	case d.Kind == samplepkg.KindSample && d.Sample != nil:
		return d.Sample.Name
	case d.Kind == samplepkg.KindAnalysis && d.Analysis != nil:
		return d.Analysis.Name
	}
	return ""
}

var md5Hex = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

// Validate checks the rules a package must pass before anything is written: a known kind
// with its document, required fields, every name a plain directory name, a sample with at
// least one read, every read's package path safe, distinct and not the description file's.
// Errors name the item by its LIMS id.
func (d Description) Validate() error {
	id := d.ID
	switch {
	case d.Kind == samplepkg.KindSample && d.Sample != nil && d.Analysis == nil:
		return d.validateSample()
	case d.Kind == samplepkg.KindAnalysis && d.Analysis != nil && d.Sample == nil && len(d.Reads) == 0:
		return d.validateAnalysis()
	}
	return itemError(id, ErrMalformed, "kind %q does not go with its document (a sample or an analysis, and reads only for a sample)", d.Kind)
}

func (d Description) validateSample() error {
	s := d.Sample
	if err := samplepkg.CheckName(s.Name); err != nil {
		return itemError(d.ID, ErrUnsafeName, "%v", err)
	}
	for _, f := range []struct{ field, value string }{{"sample_id", s.SampleID}, {"project", s.Project}, {"flowcell_id", s.FlowcellID}} {
		if f.value == "" {
			return itemError(d.ID, ErrMalformed, "the sample has no %s", f.field)
		}
	}
	if s.Lane <= 0 {
		return itemError(d.ID, ErrMalformed, "the sample's lane %d is not a lane number", s.Lane)
	}
	if len(s.Reads) != 0 {
		return itemError(d.ID, ErrMalformed, "the sample document lists reads itself; the exporter computes them from the files")
	}
	if len(d.Reads) == 0 {
		return itemError(d.ID, ErrNoReads, "the LIMS lists no reads for the sample")
	}
	seen := map[string]bool{samplepkg.KindSample.DescriptionFile(s.Name): true}
	for i, r := range d.Reads {
		if err := samplepkg.CheckPath(r.Path); err != nil {
			return itemError(d.ID, ErrUnsafeName, "read %d: %v", i+1, err)
		}
		if seen[r.Path] {
			return itemError(d.ID, ErrMalformed, "read %d: %q is listed twice or is the description file's name", i+1, r.Path)
		}
		// A file cannot also be a directory of another read (a and a/b; S-1.sample/x):
		// writing the package would fail on every retry.
		for other := range seen {
			if strings.HasPrefix(r.Path, other+"/") || strings.HasPrefix(other, r.Path+"/") {
				return itemError(d.ID, ErrMalformed, "read %d: %q and %q cannot both be in the package (one is the other's directory)", i+1, r.Path, other)
			}
		}
		seen[r.Path] = true
		if r.Source == "" || !path.IsAbs(r.Source) {
			return itemError(d.ID, ErrMalformed, "read %d (%s): source %q is not an absolute path", i+1, r.Path, r.Source)
		}
		if r.MD5 != "" && !md5Hex.MatchString(r.MD5) {
			return itemError(d.ID, ErrMalformed, "read %d (%s): MD5 %q is not 32 hex digits", i+1, r.Path, r.MD5)
		}
	}
	return nil
}

func (d Description) validateAnalysis() error {
	a := d.Analysis
	if err := samplepkg.CheckName(a.Name); err != nil {
		return itemError(d.ID, ErrUnsafeName, "%v", err)
	}
	if a.Type == "" || a.Params.Genepanel == "" {
		return itemError(d.ID, ErrMalformed, "the analysis has no type or no params.genepanel")
	}
	if len(a.Samples) == 0 {
		return itemError(d.ID, ErrMalformed, "the analysis lists no samples")
	}
	for i, s := range a.Samples {
		if err := samplepkg.CheckName(s); err != nil {
			return itemError(d.ID, ErrUnsafeName, "sample %d of the analysis: %v", i+1, err)
		}
	}
	return nil
}

// checkEntry refuses a description of another package than the one the listing named (the
// LIMS changed the item in between); an entry listed without a name is not compared.
func checkEntry(e Entry, d Description) error {
	if e.Name != "" && (e.Name != d.Name() || e.Kind != d.Kind) {
		return itemError(e.ID, ErrMalformed, "the item now describes another package than the one listed")
	}
	return nil
}
