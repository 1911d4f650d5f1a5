package clarity

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// Ref is a reference from one document to another resource.
type Ref struct {
	LimsID string `xml:"limsid,attr"`
	URI    string `xml:"uri,attr"`
}

// UDF is a user-defined field: its configured name, type (String, Numeric, Boolean, Date, ...)
// and value as the LIMS sends it.
type UDF struct {
	Name  string `xml:"name,attr"`
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

// UDFs are a resource's user-defined fields.
type UDFs []UDF

// Get returns the value of the field called name and whether the resource has it.
func (u UDFs) Get(name string) (string, bool) {
	for _, f := range u {
		if f.Name == name {
			return strings.TrimSpace(f.Value), true
		}
	}
	return "", false
}

// QueuedArtifact is one entry of a step's queue.
type QueuedArtifact struct {
	LimsID    string `xml:"limsid,attr"`
	URI       string `xml:"uri,attr"`
	QueueTime string `xml:"queue-time"`
}

// QueuePage is one page of a queue; NextPage is the URI of the next ("" on the last page).
type QueuePage struct {
	XMLName   xml.Name         `xml:"http://genologics.com/ri/queue queue"`
	URI       string           `xml:"uri,attr"`
	StepURI   string           `xml:"protocol-step-uri,attr"`
	Artifacts []QueuedArtifact `xml:"artifacts>artifact"`
	Next      *Ref             `xml:"next-page"`
}

// NextPage is the URI of the following page, "" on the last.
func (q QueuePage) NextPage() string {
	if q.Next == nil {
		return ""
	}
	return q.Next.URI
}

// Queue returns the first page of the queue of protocol step id (GET /api/v2/queues/{id}),
// or, when page is a NextPage URI of an earlier answer, that page.
func (c *Client) Queue(ctx context.Context, id, page string) (QueuePage, error) {
	target, err := c.apiPath("queues", id)
	if page != "" {
		target, err = c.resolve(page)
	}
	if err != nil {
		return QueuePage{}, err
	}
	var q QueuePage
	if err := c.get(ctx, target, &q, func() xml.Name { return q.XMLName }, NSQueue, "queue"); err != nil {
		return QueuePage{}, err
	}
	for i, a := range q.Artifacts {
		if a.LimsID == "" || a.URI == "" {
			return QueuePage{}, &MalformedError{URL: target, Err: fmt.Errorf("queue entry %d has no limsid or uri", i)}
		}
	}
	return q, nil
}

// WorkflowStage is an artifact's place in a workflow stage: QUEUED, IN_PROGRESS, COMPLETE,
// REMOVED, ...
type WorkflowStage struct {
	Name   string `xml:"name,attr"`
	URI    string `xml:"uri,attr"`
	Status string `xml:"status,attr"`
}

// Artifact is an analyte or file of the LIMS, with the sample(s) it derives from (several
// for a pool).
type Artifact struct {
	XMLName xml.Name        `xml:"http://genologics.com/ri/artifact artifact"`
	LimsID  string          `xml:"limsid,attr"`
	URI     string          `xml:"uri,attr"`
	Name    string          `xml:"name"`
	Type    string          `xml:"type"`
	Samples []Ref           `xml:"sample"`
	UDFs    UDFs            `xml:"http://genologics.com/ri/userdefined field"`
	Stages  []WorkflowStage `xml:"workflow-stages>workflow-stage"`
}

// Artifact fetches GET /api/v2/artifacts/{limsid}.
func (c *Client) Artifact(ctx context.Context, limsid string) (Artifact, error) {
	target, err := c.apiPath("artifacts", limsid)
	if err != nil {
		return Artifact{}, err
	}
	var a Artifact
	if err := c.get(ctx, target, &a, func() xml.Name { return a.XMLName }, NSArtifact, "artifact"); err != nil {
		return Artifact{}, err
	}
	if a.LimsID == "" || a.URI == "" {
		return Artifact{}, &MalformedError{URL: target, Err: fmt.Errorf("artifact has no limsid or uri")}
	}
	for i, s := range a.Samples {
		if s.LimsID == "" {
			return Artifact{}, &MalformedError{URL: target, Err: fmt.Errorf("sample reference %d has no limsid", i)}
		}
	}
	return a, nil
}

// Sample is a submitted sample with its project.
type Sample struct {
	XMLName      xml.Name `xml:"http://genologics.com/ri/sample sample"`
	LimsID       string   `xml:"limsid,attr"`
	URI          string   `xml:"uri,attr"`
	Name         string   `xml:"name"`
	DateReceived string   `xml:"date-received"`
	Project      *Ref     `xml:"project"`
	UDFs         UDFs     `xml:"http://genologics.com/ri/userdefined field"`
}

// Sample fetches GET /api/v2/samples/{limsid}.
func (c *Client) Sample(ctx context.Context, limsid string) (Sample, error) {
	target, err := c.apiPath("samples", limsid)
	if err != nil {
		return Sample{}, err
	}
	var s Sample
	if err := c.get(ctx, target, &s, func() xml.Name { return s.XMLName }, NSSample, "sample"); err != nil {
		return Sample{}, err
	}
	if s.LimsID == "" || s.Name == "" {
		return Sample{}, &MalformedError{URL: target, Err: fmt.Errorf("sample has no limsid or name")}
	}
	return s, nil
}

// Project is a LIMS project.
type Project struct {
	XMLName  xml.Name `xml:"http://genologics.com/ri/project project"`
	LimsID   string   `xml:"limsid,attr"`
	URI      string   `xml:"uri,attr"`
	Name     string   `xml:"name"`
	OpenDate string   `xml:"open-date"`
	UDFs     UDFs     `xml:"http://genologics.com/ri/userdefined field"`
}

// Project fetches GET /api/v2/projects/{limsid}.
func (c *Client) Project(ctx context.Context, limsid string) (Project, error) {
	target, err := c.apiPath("projects", limsid)
	if err != nil {
		return Project{}, err
	}
	var p Project
	if err := c.get(ctx, target, &p, func() xml.Name { return p.XMLName }, NSProject, "project"); err != nil {
		return Project{}, err
	}
	if p.LimsID == "" || p.Name == "" {
		return Project{}, &MalformedError{URL: target, Err: fmt.Errorf("project has no limsid or name")}
	}
	return p, nil
}

// routing is the body of POST /api/v2/route/artifacts.
type routing struct {
	XMLName  xml.Name         `xml:"rt:routing"`
	NS       string           `xml:"xmlns:rt,attr"`
	Unassign []routingActions `xml:"unassign"`
}

type routingActions struct {
	StageURI  string       `xml:"stage-uri,attr"`
	Artifacts []routingArt `xml:"artifact"`
}

type routingArt struct {
	URI string `xml:"uri,attr"`
}

// Unassign removes artifacts from a workflow stage (POST /api/v2/route/artifacts with an
// <unassign stage-uri>): they leave that stage's queue, and the artifact's workflow-stages
// record the stage as REMOVED. artifactURIs are the artifacts' uri attributes; a ?state=
// suffix is dropped, since routing addresses the artifact, not one of its states.
func (c *Client) Unassign(ctx context.Context, stageURI string, artifactURIs ...string) error {
	if _, err := c.resolve(stageURI); err != nil || stageURI == "" {
		return fmt.Errorf("clarity: stage %q is not a stage URI of the LIMS", stageURI)
	}
	act := routingActions{StageURI: stageURI}
	for _, u := range artifactURIs {
		if _, err := c.resolve(u); err != nil || u == "" {
			return fmt.Errorf("clarity: artifact %q is not an artifact URI of the LIMS", u)
		}
		u, _, _ = strings.Cut(u, "?")
		act.Artifacts = append(act.Artifacts, routingArt{URI: u})
	}
	body, err := xml.Marshal(routing{NS: NSRouting, Unassign: []routingActions{act}})
	if err != nil {
		return err
	}
	target, err := c.resolve(c.base.Path + "/api/v2/route/artifacts")
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, target, append([]byte(xml.Header), body...), nil)
}
