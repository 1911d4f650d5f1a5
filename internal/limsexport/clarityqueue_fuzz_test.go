package limsexport_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/clarity"
	"github.com/opsflow/opsflow/internal/clarity/claritytest"
	"github.com/opsflow/opsflow/internal/limsexport"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// FuzzClarityQueueDescribe serves an arbitrary artifact document (the recorded artifacts as
// seeds) from a real HTTP server of the recorded Clarity API, with the recorded samples and
// project, and describes it. A refusal is a sentinel or the LIMS's own HTTP answer, naming
// the item; a description passes Validate, is the same when read twice, has a plain package
// name, and every read the LIMS gives as a relative path stays beneath ReadsRoot.
func FuzzClarityQueueDescribe(f *testing.F) {
	recorded := claritytest.Testdata(f)
	arts, err := filepath.Glob(filepath.Join(recorded, "api", "v2", "artifacts", "*.xml"))
	require.NoError(f, err)
	require.NotEmpty(f, arts)
	for _, p := range arts {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, reads := range []string{"../../etc/passwd", "/data/NA1_R1.fastq", "d41d8cd98f00b204e9800998ecf8427e  NA1/../../x",
		"NA1/NA1_R1.fastq\nNA1/NA1_R1.fastq", "a\x00b", "./NA1_R1.fastq", "NA1//R1"} {
		f.Add([]byte(`<art:artifact xmlns:udf="http://genologics.com/ri/userdefined" xmlns:art="http://genologics.com/ri/artifact" uri="https://clarity.example.org/api/v2/artifacts/2-101" limsid="2-101"><name>X</name>` +
			`<sample uri="https://clarity.example.org/api/v2/samples/ACC1A1" limsid="ACC1A1"/><udf:field type="String" name="FASTQ Files">` + reads + `</udf:field>` +
			`<udf:field type="String" name="Flowcell ID">F</udf:field><udf:field type="Numeric" name="Lane">1</udf:field></art:artifact>`))
	}

	docs := filepath.Join(f.TempDir(), "docs")
	require.NoError(f, os.CopyFS(docs, os.DirFS(recorded)))
	served := filepath.Join(docs, "api", "v2", "artifacts", "2-101.xml")
	srv := claritytest.New(f, docs)
	c, err := clarity.New(srv.URL, claritytest.User, claritytest.Password, nil)
	require.NoError(f, err)
	root := filepath.Join(f.TempDir(), "reads")
	q := limsexport.ClarityQueue{Client: c, QueueID: "1002", StageURI: srv.URL + "/api/v2/configuration/workflows/5/stages/12",
		ReadsRoot: root, UDFs: limsexport.DefaultClarityUDFs}

	f.Fuzz(func(t *testing.T, doc []byte) {
		require.NoError(t, os.WriteFile(served, doc, 0o644))
		ctx := context.Background()
		e := limsexport.Entry{ID: "2-101"}
		d, err := q.Describe(ctx, e)
		if err != nil {
			var se *clarity.StatusError
			if !errors.As(err, &se) {
				requireClarityRefusal(t, err)
			}
			require.Contains(t, err.Error(), "LIMS item ", "the error names the item")
			return
		}
		require.NoError(t, d.Validate())
		require.NoError(t, samplepkg.CheckName(d.Name()))
		again, err := q.Describe(ctx, e)
		require.NoError(t, err)
		require.Equal(t, d, again, "Describe is not deterministic")
		art, err := q.Client.Artifact(ctx, e.ID)
		require.NoError(t, err)
		udf, _ := art.UDFs.Get(limsexport.DefaultClarityUDFs.Reads)
		absolute := 0
		for _, line := range strings.Split(udf, "\n") {
			line = strings.TrimSpace(line)
			if m := md5Prefix.FindStringSubmatch(line); m != nil {
				line = m[1]
			}
			if strings.HasPrefix(line, "/") {
				absolute++
			}
		}
		outside := 0
		for _, r := range d.Reads {
			require.True(t, filepath.IsAbs(r.Source), r.Source)
			require.NoError(t, samplepkg.CheckPath(r.Path))
			rel, err := filepath.Rel(root, r.Source)
			if err != nil || !filepath.IsLocal(rel) {
				outside++
			}
		}
		require.Equal(t, absolute, outside, "a read given as a relative path is not beneath ReadsRoot: %v", d.Reads)
	})
}

// md5Prefix is the "<md5>  <path>" form of a line of the reads UDF (md5sum's output).
var md5Prefix = regexp.MustCompile(`^[0-9a-fA-F]{32}\s+\*?(.+)$`)

func requireClarityRefusal(t *testing.T, err error) {
	for _, s := range []error{limsexport.ErrMalformed, limsexport.ErrUnsafeName, limsexport.ErrNoReads} {
		if errors.Is(err, s) {
			return
		}
	}
	require.Failf(t, "not a refusal", "a retryable error for a bad document: %v", err)
}
