package limsexport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opsflow/opsflow/internal/samplepkg"

	"github.com/opsflow/opsflow/internal/jsonstrict"
)

// DoneDir is where DirQueue moves the files of exported items.
const DoneDir = "done"

// DirQueue is an export queue kept as a directory of <id>.json files, one per sample or
// analysis (QueueFile); exporting one moves its file into done/. It stands in for the LIMS
// in the demo and in tests. Relative read sources resolve against Dir.
type DirQueue struct {
	Dir string
}

// QueueFile is the content of a DirQueue's <id>.json: the kind, the sample or analysis
// document, and for a sample where its reads are.
type QueueFile struct {
	Kind     samplepkg.Kind `json:"kind"`
	Sample   *SampleDoc     `json:"sample,omitempty"`
	Analysis *AnalysisDoc   `json:"analysis,omitempty"`
	Reads    []QueueRead    `json:"reads,omitempty"`
}

// QueueRead is a read of a QueueFile: the file to copy (relative to the queue directory or
// absolute), its name in the package (default: the source's base name) and optionally the
// MD5 the LIMS knows for it.
type QueueRead struct {
	Source string `json:"source"`
	Path   string `json:"path,omitempty"`
	MD5    string `json:"md5,omitempty"`
}

// Pending lists the queue files in name order after cursor (the last id of the previous page).
func (q DirQueue) Pending(ctx context.Context, cursor string, limit int) ([]Entry, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("queue %s: page limit %d is not positive", q.Dir, limit)
	}
	des, err := os.ReadDir(q.Dir)
	if err != nil {
		return nil, "", fmt.Errorf("queue %s: %w", q.Dir, err)
	}
	var ids []string
	for _, de := range des {
		id, ok := strings.CutSuffix(de.Name(), ".json")
		if ok && de.Type().IsRegular() && id > cursor && !strings.HasPrefix(id, ".") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	next := ""
	if len(ids) > limit {
		ids, next = ids[:limit], ids[limit-1]
	}
	out := make([]Entry, 0, len(ids))
	for _, id := range ids {
		e := Entry{ID: id, Kind: samplepkg.KindSample}
		if d, err := q.describe(id); err == nil {
			e.Kind, e.Name = d.Kind, d.Name()
		} else if errors.Is(err, fs.ErrNotExist) {
			continue // exported meanwhile
		}
		out = append(out, e)
	}
	return out, next, nil
}

// Describe reads the item's queue file (in done/ once it was marked exported).
func (q DirQueue) Describe(ctx context.Context, e Entry) (Description, error) {
	d, err := q.describe(e.ID)
	if err != nil {
		return Description{}, err
	}
	return d, checkEntry(e, d)
}

func (q DirQueue) describe(id string) (Description, error) {
	if err := samplepkg.CheckName(id); err != nil {
		return Description{}, itemError(id, ErrUnsafeName, "queue file id: %v", err)
	}
	file := filepath.Join(q.Dir, id+".json")
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		// Marked exported already (moved into done/) by an attempt whose completion was
		// lost: its retry describes the same item and finds the package exported.
		file = filepath.Join(q.Dir, DoneDir, id+".json")
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return Description{}, fmt.Errorf("LIMS item %s: %w", id, err)
	}
	var qf QueueFile
	if err := jsonstrict.Decode(data, &qf, jsonstrict.Options{DisallowUnknownFields: true}); err != nil {
		return Description{}, itemError(id, ErrMalformed, "%s is not a queue file: %v", file, err)
	}
	d := Description{ID: id, Kind: qf.Kind, Sample: qf.Sample, Analysis: qf.Analysis}
	dir, err := filepath.Abs(q.Dir)
	if err != nil {
		return Description{}, err
	}
	for _, r := range qf.Reads {
		src := r.Source
		if src != "" && !filepath.IsAbs(src) {
			src = filepath.Join(dir, filepath.FromSlash(src))
		}
		p := r.Path
		if p == "" && r.Source != "" {
			p = filepath.Base(filepath.FromSlash(r.Source))
		}
		d.Reads = append(d.Reads, SourceRead{Source: src, Path: p, MD5: r.MD5})
	}
	return d, d.Validate()
}

// MarkExported moves the item's file into done/; an item already there is marked.
func (q DirQueue) MarkExported(ctx context.Context, e Entry) error {
	if err := samplepkg.CheckName(e.ID); err != nil {
		return itemError(e.ID, ErrUnsafeName, "queue file id: %v", err)
	}
	done := filepath.Join(q.Dir, DoneDir)
	if err := os.MkdirAll(done, 0o755); err != nil {
		return err
	}
	err := os.Rename(filepath.Join(q.Dir, e.ID+".json"), filepath.Join(done, e.ID+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(filepath.Join(done, e.ID+".json")); serr == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("LIMS item %s: mark exported: %w", e.ID, err)
	}
	if err := syncDir(done); err != nil {
		return err
	}
	return syncDir(q.Dir)
}
