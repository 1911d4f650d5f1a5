package clarity_test

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/clarity"
	"github.com/opsflow/opsflow/internal/clarity/claritytest"
)

func newClient(t *testing.T) (*clarity.Client, *claritytest.Server) {
	srv := claritytest.New(t, claritytest.Testdata(t))
	c, err := clarity.New(srv.URL+"/", claritytest.User, claritytest.Password, nil)
	require.NoError(t, err)
	return c, srv
}

func paths(reqs []claritytest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

func TestQueueFollowsNextPage(t *testing.T) {
	c, srv := newClient(t)
	ctx := context.Background()
	first, err := c.Queue(ctx, "1002", "")
	require.NoError(t, err)
	require.Len(t, first.Artifacts, 2)
	assert.Equal(t, "2-101", first.Artifacts[0].LimsID)
	assert.Equal(t, srv.URL+"/api/v2/artifacts/2-101", first.Artifacts[0].URI)
	require.Equal(t, srv.URL+"/api/v2/queues/1002?page=2", first.NextPage())

	second, err := c.Queue(ctx, "1002", first.NextPage())
	require.NoError(t, err)
	require.Len(t, second.Artifacts, 1)
	assert.Equal(t, "2-103", second.Artifacts[0].LimsID)
	assert.Empty(t, second.NextPage(), "last page")
	assert.Equal(t, []string{"GET /api/v2/queues/1002", "GET /api/v2/queues/1002?page=2"}, paths(srv.Requests()))
}

func TestQueueRefusesAPageOnAnotherHost(t *testing.T) {
	c, srv := newClient(t)
	_, err := c.Queue(context.Background(), "1002", "https://elsewhere.example.org/api/v2/queues/1002?page=2")
	assert.ErrorContains(t, err, "not on the LIMS server")
	assert.Empty(t, srv.Requests(), "credentials never leave for another host")
}

func TestArtifactSampleProject(t *testing.T) {
	c, srv := newClient(t)
	ctx := context.Background()
	a, err := c.Artifact(ctx, "2-101")
	require.NoError(t, err)
	assert.Equal(t, "Diag-wgs1-NA1", a.Name)
	require.Len(t, a.Samples, 1)
	assert.Equal(t, "ACC1A1", a.Samples[0].LimsID)
	lane, ok := a.UDFs.Get("Lane")
	assert.True(t, ok)
	assert.Equal(t, "1", lane)
	q30, _ := a.UDFs.Get("% Bases >=Q30")
	assert.Equal(t, "93.12", q30)
	_, ok = a.UDFs.Get("No such field")
	assert.False(t, ok)
	require.Len(t, a.Stages, 2)
	assert.Equal(t, clarity.WorkflowStage{Name: "Export to automation", URI: srv.URL + "/api/v2/configuration/workflows/5/stages/12", Status: "QUEUED"}, a.Stages[1])

	pool, err := c.Artifact(ctx, "2-103")
	require.NoError(t, err)
	assert.Len(t, pool.Samples, 2, "a pool derives from several samples")

	s, err := c.Sample(ctx, a.Samples[0].LimsID)
	require.NoError(t, err)
	assert.Equal(t, "NA1", s.Name)
	require.NotNil(t, s.Project)
	kit, _ := s.UDFs.Get("Capture Kit")
	assert.Equal(t, "wgs", kit)

	p, err := c.Project(ctx, s.Project.LimsID)
	require.NoError(t, err)
	assert.Equal(t, "Diag-wgs1", p.Name)
	assert.Equal(t, "2024-02-19", p.OpenDate)
	assert.Equal(t, []string{"GET /api/v2/artifacts/2-101", "GET /api/v2/artifacts/2-103", "GET /api/v2/samples/ACC1A1", "GET /api/v2/projects/ACC1"}, paths(srv.Requests()))
}

func TestUnassignPostsARoutingDocument(t *testing.T) {
	c, srv := newClient(t)
	stage := srv.URL + "/api/v2/configuration/workflows/5/stages/12"
	require.NoError(t, c.Unassign(context.Background(), stage, srv.URL+"/api/v2/artifacts/2-101?state=4711"))
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "POST /api/v2/route/artifacts", reqs[0].Method+" "+reqs[0].Path)

	var body struct {
		XMLName  xml.Name
		Unassign []struct {
			StageURI  string `xml:"stage-uri,attr"`
			Artifacts []struct {
				URI string `xml:"uri,attr"`
			} `xml:"artifact"`
		} `xml:"unassign"`
		Assign []struct{} `xml:"assign"`
	}
	require.NoError(t, xml.Unmarshal([]byte(reqs[0].Body), &body), reqs[0].Body)
	assert.Equal(t, xml.Name{Space: clarity.NSRouting, Local: "routing"}, body.XMLName)
	assert.Empty(t, body.Assign)
	require.Len(t, body.Unassign, 1)
	assert.Equal(t, stage, body.Unassign[0].StageURI)
	require.Len(t, body.Unassign[0].Artifacts, 1)
	assert.Equal(t, srv.URL+"/api/v2/artifacts/2-101", body.Unassign[0].Artifacts[0].URI, "the artifact, not one of its states")
}

func TestUnauthorizedNotFoundAndMalformed(t *testing.T) {
	srv := claritytest.New(t, claritytest.Testdata(t))
	ctx := context.Background()
	bad, err := clarity.New(srv.URL, claritytest.User, "wrong", nil)
	require.NoError(t, err)
	_, err = bad.Queue(ctx, "1002", "")
	var se *clarity.StatusError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, http.StatusUnauthorized, se.Code)
	assert.ErrorContains(t, err, "check the LIMS user and password")
	assert.ErrorContains(t, err, "bad credentials", "the LIMS's own message")

	c, err := clarity.New(srv.URL, claritytest.User, claritytest.Password, nil)
	require.NoError(t, err)
	_, err = c.Artifact(ctx, "2-404")
	assert.True(t, clarity.IsNotFound(err), "%v", err)
	assert.ErrorContains(t, err, "/api/v2/artifacts/2-404")

	var me *clarity.MalformedError
	_, err = c.Artifact(ctx, "2-900")
	require.True(t, errors.As(err, &me), "cut-short XML: %v", err)
	assert.Contains(t, me.URL, "/api/v2/artifacts/2-900")
	assert.False(t, clarity.IsNotFound(err))

	_, err = c.Queue(ctx, "1066", "")
	assert.True(t, errors.As(err, &me), "a sample where a queue was asked: %v", err)

	_, err = c.Sample(ctx, "../artifacts/2-101")
	assert.True(t, clarity.IsNotFound(err), "an id is one path segment: %v", err)
}

func TestNewRefusesANonHTTPBase(t *testing.T) {
	_, err := clarity.New("lims.example.org", "u", "p", nil)
	assert.ErrorContains(t, err, "not an http(s) URL")
}
