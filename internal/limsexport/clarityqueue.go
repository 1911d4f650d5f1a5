package limsexport

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/opsflow/opsflow/internal/clarity"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// ClarityUDFs are the names of the user-defined fields the LIMS keeps an export's data in:
// on the queued artifact (ExportType ... OneMismatch for a sample, AnalysisType ... Priority
// for an analysis) and on the submitted sample (CaptureKit, SampleTaqman).
type ClarityUDFs struct {
	// ExportType is "sample" (or absent) for a sequenced sample, "analysis" for an analysis,
	// whose artifact derives from (pools) the samples it analyses.
	ExportType string
	// Reads lists a sample's FASTQ files, one a line: "<path>" or, as md5sum prints it,
	// "<md5>  <path>"; a relative path is relative to ClarityQueue.ReadsRoot.
	Reads                                                     string
	FlowcellPosition, FlowcellID, SequencerID, Lane, Index    string
	SequenceDate, NumReads, Q30, MeanQual, PerfectIndex       string
	OneMismatch, CaptureKit, SampleTaqman                     string
	AnalysisType, GenePanel, AnalysisTaqman, AnalysisPriority string
}

// DefaultClarityUDFs are the field names of NSC's Clarity configuration.
var DefaultClarityUDFs = ClarityUDFs{
	ExportType: "Export Type", Reads: "FASTQ Files",
	FlowcellPosition: "Flowcell Position", FlowcellID: "Flowcell ID", SequencerID: "Sequencer ID",
	Lane: "Lane", Index: "Index", SequenceDate: "Sequence Date", NumReads: "Number of Reads",
	Q30: "% Bases >=Q30", MeanQual: "Mean Quality Score", PerfectIndex: "% Perfect Index Reads",
	OneMismatch: "% One Mismatch Reads (Index)", CaptureKit: "Capture Kit", SampleTaqman: "Taqman",
	AnalysisType: "Analysis Type", GenePanel: "Gene Panel", AnalysisTaqman: "Taqman", AnalysisPriority: "Priority",
}

// ClarityQueue is the export queue of a Clarity LIMS: the queue of the export protocol step
// QueueID. A sample's package name is "<project name>-<sample name>" (SamplePackageName),
// an analysis's the name of its artifact.
//
// MarkExported unassigns the artifact from the export workflow stage StageURI (POST
// /api/v2/route/artifacts), the way Clarity takes an artifact out of a queue: the next
// listing no longer holds it, the artifact keeps the stage as REMOVED for the audit trail,
// and no UDF has to be configured, written and then filtered on at every listing (which an
// "Exported" UDF set by PUT of the artifact would need).
type ClarityQueue struct {
	Client   *clarity.Client
	QueueID  string
	StageURI string
	// ReadsRoot is where relative read paths of the Reads UDF are.
	ReadsRoot string
	UDFs      ClarityUDFs
}

// SamplePackageName is the package name of a sample of a project.
func SamplePackageName(project, sample string) string { return project + "-" + sample }

// Pending lists the queue from cursor ("<offset>@<page URI>", "" = the first page).
func (q ClarityQueue) Pending(ctx context.Context, cursor string, limit int) ([]Entry, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("clarity queue %s: page limit %d is not positive", q.QueueID, limit)
	}
	offset, page := 0, ""
	if cursor != "" {
		o, p, ok := strings.Cut(cursor, "@")
		n, err := strconv.Atoi(o)
		if !ok || err != nil || n < 0 {
			return nil, "", fmt.Errorf("clarity queue %s: cursor %q is not <offset>@<page>", q.QueueID, cursor)
		}
		offset, page = n, p
	}
	var out []Entry
	projects := map[string]string{}
	for {
		qp, err := q.Client.Queue(ctx, q.QueueID, page)
		if err != nil {
			return nil, "", err
		}
		for offset < len(qp.Artifacts) && len(out) < limit {
			e, err := q.entry(ctx, qp.Artifacts[offset].LimsID, projects)
			if err != nil {
				return nil, "", err
			}
			out = append(out, e)
			offset++
		}
		switch {
		case offset < len(qp.Artifacts):
			return out, fmt.Sprintf("%d@%s", offset, page), nil
		case qp.NextPage() == "":
			return out, "", nil
		case len(out) == limit:
			return out, "0@" + qp.NextPage(), nil
		}
		if qp.NextPage() == page {
			return nil, "", fmt.Errorf("clarity queue %s: page %q names itself as the next page", q.QueueID, page)
		}
		offset, page = 0, qp.NextPage()
	}
}

// entry names one queued artifact; a malformed document gives an entry without a name.
func (q ClarityQueue) entry(ctx context.Context, limsid string, projects map[string]string) (Entry, error) {
	e := Entry{ID: limsid, Kind: samplepkg.KindSample}
	art, err := q.Client.Artifact(ctx, limsid)
	if err == nil {
		e.Kind, err = q.kind(art)
	}
	if err == nil && e.Kind == samplepkg.KindAnalysis {
		e.Name = art.Name
		return e, nil
	}
	if err == nil {
		e.Name, _, err = q.sampleName(ctx, art, projects)
	}
	var me *clarity.MalformedError
	if err != nil && !errors.As(err, &me) && !errors.Is(err, ErrMalformed) {
		return Entry{}, err
	}
	return e, nil
}

func (q ClarityQueue) kind(art clarity.Artifact) (samplepkg.Kind, error) {
	switch v, _ := art.UDFs.Get(q.UDFs.ExportType); strings.ToLower(v) {
	case "", "sample":
		return samplepkg.KindSample, nil
	case "analysis":
		return samplepkg.KindAnalysis, nil
	default:
		return "", itemError(art.LimsID, ErrMalformed, "UDF %q is %q, not sample or analysis", q.UDFs.ExportType, v)
	}
}

// sampleName is the package name of the one sample a sample artifact derives from, and that sample.
func (q ClarityQueue) sampleName(ctx context.Context, art clarity.Artifact, projects map[string]string) (string, clarity.Sample, error) {
	if len(art.Samples) != 1 {
		return "", clarity.Sample{}, itemError(art.LimsID, ErrMalformed, "a sample artifact derives from %d samples, not 1", len(art.Samples))
	}
	return q.packageOf(ctx, art.LimsID, art.Samples[0].LimsID, projects)
}

// packageOf is the package name of sample limsid and the sample, read for queue item id.
func (q ClarityQueue) packageOf(ctx context.Context, id, limsid string, projects map[string]string) (string, clarity.Sample, error) {
	s, err := q.Client.Sample(ctx, limsid)
	if err != nil {
		return "", clarity.Sample{}, q.wrap(id, err)
	}
	if s.Project == nil || s.Project.LimsID == "" {
		return "", clarity.Sample{}, itemError(id, ErrMalformed, "sample %s has no project", s.LimsID)
	}
	name, ok := projects[s.Project.LimsID]
	if !ok {
		p, err := q.Client.Project(ctx, s.Project.LimsID)
		if err != nil {
			return "", clarity.Sample{}, q.wrap(id, err)
		}
		name = p.Name
		projects[s.Project.LimsID] = name
	}
	return SamplePackageName(name, s.Name), s, nil
}

// wrap makes a malformed Clarity document an ErrMalformed error naming the item.
func (q ClarityQueue) wrap(id string, err error) error {
	if err == nil {
		return nil
	}
	var me *clarity.MalformedError
	if errors.As(err, &me) {
		return itemError(id, ErrMalformed, "%v", err)
	}
	return fmt.Errorf("LIMS item %s: %w", id, err)
}

// Describe reads the artifact, its sample(s) and project into the package's document.
func (q ClarityQueue) Describe(ctx context.Context, e Entry) (Description, error) {
	art, err := q.Client.Artifact(ctx, e.ID)
	if err != nil {
		return Description{}, q.wrap(e.ID, err)
	}
	kind, err := q.kind(art)
	if err != nil {
		return Description{}, err
	}
	var d Description
	if kind == samplepkg.KindAnalysis {
		d, err = q.describeAnalysis(ctx, art)
	} else {
		d, err = q.describeSample(ctx, art)
	}
	if err != nil {
		return Description{}, err
	}
	if err := d.Validate(); err != nil {
		return Description{}, err
	}
	return d, checkEntry(e, d)
}

func (q ClarityQueue) describeAnalysis(ctx context.Context, art clarity.Artifact) (Description, error) {
	u := q.UDFs
	a := &AnalysisDoc{Name: art.Name}
	a.Type, _ = art.UDFs.Get(u.AnalysisType)
	a.Params.Genepanel, _ = art.UDFs.Get(u.GenePanel)
	p := fieldParser{id: art.LimsID, udfs: art.UDFs}
	a.Params.Taqman = p.bool(u.AnalysisTaqman)
	a.Priority = int(p.int(u.AnalysisPriority))
	if p.err != nil {
		return Description{}, p.err
	}
	projects := map[string]string{}
	for _, s := range art.Samples {
		name, _, err := q.packageOf(ctx, art.LimsID, s.LimsID, projects)
		if err != nil {
			return Description{}, err
		}
		a.Samples = append(a.Samples, name)
	}
	return Description{ID: art.LimsID, Kind: samplepkg.KindAnalysis, Analysis: a}, nil
}

func (q ClarityQueue) describeSample(ctx context.Context, art clarity.Artifact) (Description, error) {
	u := q.UDFs
	projects := map[string]string{}
	name, smp, err := q.sampleName(ctx, art, projects)
	if err != nil {
		return Description{}, err
	}
	prj, err := q.Client.Project(ctx, smp.Project.LimsID)
	if err != nil {
		return Description{}, q.wrap(art.LimsID, err)
	}
	get := func(udfs clarity.UDFs, n string) string { v, _ := udfs.Get(n); return v }
	p := fieldParser{id: art.LimsID, udfs: art.UDFs}
	s := &SampleDoc{
		Name: name, SampleID: smp.Name, Project: prj.Name, ProjectDate: prj.OpenDate,
		Flowcell: get(art.UDFs, u.FlowcellPosition), FlowcellID: get(art.UDFs, u.FlowcellID),
		SequencerID: get(art.UDFs, u.SequencerID), Lane: int(p.int(u.Lane)), Index: get(art.UDFs, u.Index),
		Capturekit: get(smp.UDFs, u.CaptureKit), SequenceDate: get(art.UDFs, u.SequenceDate),
		Taqman: get(smp.UDFs, u.SampleTaqman),
		Stats: Stats{Reads: p.int(u.NumReads), Q30BasesPct: p.float(u.Q30), MeanQualScore: p.float(u.MeanQual),
			PerfectIndexReadsPct: p.float(u.PerfectIndex), OneMismatchIndexPct: p.float(u.OneMismatch)},
	}
	if p.err != nil {
		return Description{}, p.err
	}
	reads, err := q.reads(art)
	if err != nil {
		return Description{}, err
	}
	return Description{ID: art.LimsID, Kind: samplepkg.KindSample, Sample: s, Reads: reads}, nil
}

var md5Line = regexp.MustCompile(`^([0-9a-fA-F]{32})\s+\*?(.+)$`)

// reads parses the Reads UDF; a read's package name is its file's base name.
func (q ClarityQueue) reads(art clarity.Artifact) ([]SourceRead, error) {
	v, _ := art.UDFs.Get(q.UDFs.Reads)
	var out []SourceRead
	for i, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		r := SourceRead{Source: line}
		if m := md5Line.FindStringSubmatch(line); m != nil {
			r.MD5, r.Source = strings.ToLower(m[1]), m[2]
		}
		if strings.Contains(r.Source, "\x00") {
			return nil, itemError(art.LimsID, ErrUnsafeName, "line %d of UDF %q has a NUL byte", i+1, q.UDFs.Reads)
		}
		if !path.IsAbs(r.Source) {
			// Relative paths stay under ReadsRoot: a ".." segment is refused.
			if err := samplepkg.CheckPath(r.Source); err != nil {
				return nil, itemError(art.LimsID, ErrUnsafeName, "line %d of UDF %q: %v", i+1, q.UDFs.Reads, err)
			}
			r.Source = filepath.Join(q.ReadsRoot, filepath.FromSlash(r.Source))
		}
		r.Path = path.Base(r.Source)
		out = append(out, r)
	}
	return out, nil
}

// fieldParser reads numeric and boolean UDFs, keeping the first error; an absent field is 0/false.
type fieldParser struct {
	id   string
	udfs clarity.UDFs
	err  error
}

func (p *fieldParser) value(name string, parse func(string) error) {
	v, ok := p.udfs.Get(name)
	if !ok || v == "" || p.err != nil {
		return
	}
	if err := parse(v); err != nil {
		p.err = itemError(p.id, ErrMalformed, "UDF %q: %q is not a value of its type", name, v)
	}
}

func (p *fieldParser) int(name string) (n int64) {
	p.value(name, func(v string) (err error) { n, err = strconv.ParseInt(v, 10, 64); return })
	return n
}

func (p *fieldParser) float(name string) (f float64) {
	p.value(name, func(v string) (err error) { f, err = strconv.ParseFloat(v, 64); return })
	return f
}

func (p *fieldParser) bool(name string) (b bool) {
	p.value(name, func(v string) (err error) { b, err = strconv.ParseBool(v); return })
	return b
}

// MarkExported unassigns the artifact from StageURI, unless it is no longer queued there.
func (q ClarityQueue) MarkExported(ctx context.Context, e Entry) error {
	art, err := q.Client.Artifact(ctx, e.ID)
	if err != nil {
		return q.wrap(e.ID, err)
	}
	want, _, _ := strings.Cut(q.StageURI, "?")
	for _, st := range art.Stages {
		if uri, _, _ := strings.Cut(st.URI, "?"); uri == want && st.Status == "QUEUED" {
			return q.wrap(e.ID, q.Client.Unassign(ctx, q.StageURI, art.URI))
		}
	}
	return nil
}
