package limsexport_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/limsexport"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

const fuzzItem = "Q0001"

var md5HexRE = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

// refusals are the sentinels a LIMS document can be refused with: retrying cannot help.
var refusals = []error{limsexport.ErrMalformed, limsexport.ErrUnsafeName, limsexport.ErrNoReads,
	limsexport.ErrChecksumMismatch, limsexport.ErrConflict, limsexport.ErrSourceChanged}

// FuzzDirQueueDescribe reads an arbitrary LIMS queue document (testdata/lims-queue's files
// as seeds) and, when it is accepted, exports it. A refused document is refused with a
// sentinel naming the item (never a retryable error); an accepted one is valid JSON, listed
// by Pending as what Describe says, passes Validate, has a plain package name, safe distinct
// read paths other than the description file, absolute sources and well-formed MD5s. Its
// export (when its reads are files of the queue directory) either fails with a sentinel
// leaving nothing in the export area, or writes exactly <kind>/<name>/ with the reads and a
// description file the import accepts (samplepkg.ParseSampleFile, MD5s and sizes of the
// files written).
func FuzzDirQueueDescribe(f *testing.F) {
	src := filepath.Join("..", "..", "testdata", "lims-queue")
	for _, name := range []string{"S0001.json", "S0002.json", "A0001.json"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		require.NoError(f, err)
		f.Add(b)
	}
	for _, s := range []string{
		`{"kind":"samples","sample":{"name":"S-1","sample_id":"1","project":"P","flowcell_id":"F","lane":1},"reads":[{"source":"reads/NA1_R1.fastq","path":"a/R1.fastq","md5":"d77b424ac4a7f6dc05607be94f13e740"}]}`,
		`{"kind":"samples","sample":{"name":"S-1","sample_id":"1","project":"P","flowcell_id":"F","lane":1},"reads":[{"source":"reads/NA1_R1.fastq","md5":"00000000000000000000000000000000"}]}`,
		`{"kind":"samples","sample":{"name":"../S","sample_id":"1","project":"P","flowcell_id":"F","lane":1},"reads":[{"source":"reads/NA1_R1.fastq"}]}`,
		`{"kind":"samples","sample":{"name":"S","sample_id":"1","project":"P","flowcell_id":"F","lane":1},"reads":[{"source":"reads/NA1_R1.fastq","path":"S.sample"}]}`,
		`{"kind":"samples","sample":{"name":"S","sample_id":"1","project":"P","flowcell_id":"F","lane":1},"reads":[{"source":"reads"}]}`,
		`{"kind":"analyses","analysis":{"name":"A","type":"basepipe","samples":["S1","../S2"],"params":{"genepanel":"G"}}}`,
		`{"kind":"backup","sample":{}}`, `{"kind":"samples"}`, `{}`, `[]`, `{"kind":"samples","unknown":1}`,
	} {
		f.Add([]byte(s))
	}
	reads := filepath.Join(f.TempDir(), "reads")
	require.NoError(f, os.Mkdir(reads, 0o755))
	for _, name := range []string{"NA1_R1.fastq", "NA1_R2.fastq", "NA2_R1.fastq", "NA2_R2.fastq"} {
		b, err := os.ReadFile(filepath.Join(src, "reads", name))
		require.NoError(f, err)
		require.NoError(f, os.WriteFile(filepath.Join(reads, name), b, 0o644))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		ctx := context.Background()
		q := limsexport.DirQueue{Dir: filepath.Join(t.TempDir(), "queue")}
		require.NoError(t, os.Mkdir(q.Dir, 0o755))
		require.NoError(t, os.Symlink(reads, filepath.Join(q.Dir, "reads")))
		require.NoError(t, os.WriteFile(filepath.Join(q.Dir, fuzzItem+".json"), doc, 0o644))

		page, _, err := q.Pending(ctx, "", 10)
		require.NoError(t, err)
		require.Len(t, page, 1)
		d, err := q.Describe(ctx, page[0])
		if err != nil {
			requireRefusal(t, err)
			require.Empty(t, page[0].Name, "Pending named an item Describe refuses")
			return
		}
		require.True(t, json.Valid(doc), "accepted a queue document that is not valid JSON: %q", doc)
		require.Equal(t, limsexport.Entry{ID: fuzzItem, Kind: d.Kind, Name: d.Name()}, page[0])
		require.NoError(t, d.Validate())
		require.NoError(t, samplepkg.CheckName(d.Name()))
		checkReads(t, d)
		if exportable(q.Dir, d) {
			checkExport(t, d)
		}
	})
}

func requireRefusal(t *testing.T, err error) {
	for _, s := range refusals {
		if errors.Is(err, s) {
			require.Contains(t, err.Error(), "LIMS item "+fuzzItem, "the error names the item")
			return
		}
	}
	require.Failf(t, "not a refusal", "a retryable error for a bad document: %v", err)
}

func checkReads(t *testing.T, d limsexport.Description) {
	if d.Kind != samplepkg.KindSample {
		require.Empty(t, d.Reads)
		return
	}
	require.NotEmpty(t, d.Reads)
	seen := map[string]bool{samplepkg.KindSample.DescriptionFile(d.Name()): true}
	for _, r := range d.Reads {
		require.NoError(t, samplepkg.CheckPath(r.Path))
		require.False(t, seen[r.Path], "read path %q listed twice or the description file's", r.Path)
		seen[r.Path] = true
		require.True(t, filepath.IsAbs(r.Source), "source %q", r.Source)
		require.True(t, r.MD5 == "" || md5HexRE.MatchString(r.MD5), "MD5 %q", r.MD5)
	}
}

// exportable: every read is a file named relative to the queue directory without "..", so
// the export copies only the fuzz's own files (never /dev/zero or /proc/kcore).
func exportable(dir string, d limsexport.Description) bool {
	for _, r := range d.Reads {
		rel, err := filepath.Rel(dir, r.Source)
		if err != nil || !filepath.IsLocal(rel) || strings.Contains(r.Source, "..") {
			return false
		}
	}
	return true
}

func checkExport(t *testing.T, d limsexport.Description) {
	export := t.TempDir()
	res, err := limsexport.Writer{Root: export}.Write(context.Background(), "h-fuzz", d, nil)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) { // a read the LIMS names but that is not there (yet)
			requireRefusal(t, err)
		}
		for _, p := range tree(t, export) {
			fi, err := os.Lstat(filepath.Join(export, p))
			require.NoError(t, err)
			require.True(t, fi.IsDir(), "%s left behind by a failed export: %v", p, err)
		}
		return
	}
	pkg := filepath.Join(string(d.Kind), d.Name())
	require.Equal(t, filepath.Join(export, pkg), res.Dir)
	desc := d.Kind.DescriptionFile(d.Name())
	want := map[string]bool{string(d.Kind): true, pkg: true, filepath.Join(pkg, desc): true}
	for _, r := range d.Reads {
		p := filepath.Join(pkg, filepath.FromSlash(r.Path))
		for ; p != pkg; p = filepath.Dir(p) {
			want[p] = true
		}
	}
	got := map[string]bool{}
	for _, p := range tree(t, export) {
		got[p] = true
	}
	require.Equal(t, want, got, "the export area holds exactly the package")
	data, err := os.ReadFile(filepath.Join(res.Dir, desc))
	require.NoError(t, err)
	if d.Kind == samplepkg.KindAnalysis {
		var a limsexport.AnalysisDoc
		require.NoError(t, json.Unmarshal(data, &a))
		require.Equal(t, *d.Analysis, a)
		return
	}
	sf, err := samplepkg.ParseSampleFile(desc, data)
	require.NoError(t, err, "the import refuses the .sample the export wrote")
	require.Len(t, sf.Reads, len(d.Reads))
	for i, r := range sf.Reads {
		require.Equal(t, d.Reads[i].Path, r.Path)
		body, err := os.ReadFile(filepath.Join(res.Dir, filepath.FromSlash(r.Path)))
		require.NoError(t, err)
		sum := md5.Sum(body)
		require.Equal(t, hex.EncodeToString(sum[:]), r.MD5, r.Path)
		require.Equal(t, int64(len(body)), r.Size, r.Path)
	}
}
