// Package bridgedata builds realistic Bridge archives for tests and demos of the Bridge
// downstream pipeline: ZIPs like the ones Bridge exports for a Mobile Toolbox assessment
// (metadata.json with schema references, info.json, taskData.json with nested steps,
// taskResult.json, motion.json sensor records, microphone.json levels, weather.json) with
// S3 metadata like the original's test fixture, and the bad archives the pipeline must
// refuse or report. Content is deterministic per record id. testdata/bridge/mapping.json
// maps these archives.
package bridgedata

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Spec describes the record an archive holds.
type Spec struct {
	RecordID     string
	AssessmentID string // default "spelling"
	Revision     int    // default 5
	UploadedOn   string // default "2022-09-01T18:48:15.890Z"
	// Steps is the number of answered steps in taskData.json (default 4); MotionSamples the
	// records in motion.json (default 120).
	Steps, MotionSamples int
}

func (s Spec) withDefaults() Spec {
	if s.AssessmentID == "" {
		s.AssessmentID = "spelling"
	}
	if s.Revision == 0 {
		s.Revision = 5
	}
	if s.UploadedOn == "" {
		s.UploadedOn = "2022-09-01T18:48:15.890Z"
	}
	return s
}

func (s Spec) steps() int         { return cmpOr(s.Steps, 4) }
func (s Spec) motionSamples() int { return cmpOr(s.MotionSamples, 120) }

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// start is when the assessment began: a few minutes before the upload.
func (s Spec) start() time.Time {
	up, err := time.Parse("2006-01-02T15:04:05.000Z", s.UploadedOn)
	if err != nil {
		up = time.Date(2022, 9, 1, 18, 48, 15, 0, time.UTC)
	}
	return up.Add(-10 * time.Minute).Truncate(time.Second)
}

func (s Spec) rand() *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(s.RecordID))
	return rand.New(rand.NewPCG(h.Sum64(), 0x6272696467650001))
}

// Archive is a built archive: the ZIP's bytes, its S3 metadata and the files put in it.
type Archive struct {
	Spec     Spec
	Zip      []byte
	Metadata map[string]string
	// Files are the entries' contents by name, in Names order (hostile entries included).
	Files map[string][]byte
	Names []string
}

// Key is the object key Bridge would give the archive: <recordid>-mtb<Assessment>.zip.
func (a Archive) Key() string {
	id := a.Spec.AssessmentID
	return fmt.Sprintf("%s-mtb%s%s.zip", a.Spec.RecordID, strings.ToUpper(id[:1]), id[1:])
}

type entry struct {
	name string
	body []byte
}

// Good is a valid archive of the record: every file validates against its schema.
func Good(s Spec) Archive {
	s = s.withDefaults()
	return build(s, files(s, s.rand()))
}

// Metadata is the archive's S3 object metadata, the keys of the original's fixture with
// values derived from the record id.
func Metadata(s Spec) map[string]string {
	s = s.withDefaults()
	r := s.rand()
	r.Uint64() // not the files' sequence
	instance := guid(r)
	up, _ := time.Parse("2006-01-02T15:04:05.000Z", s.UploadedOn)
	return map[string]string{
		"recordid": s.RecordID, "assessmentid": s.AssessmentID, "assessmentrevision": strconv.Itoa(s.Revision),
		"uploadedon": s.UploadedOn, "exportedon": iso(up.Add(277 * time.Millisecond)),
		"eventtimestamp": iso(up.Add(-4*time.Minute - 22*time.Second)), "healthcode": guid(r),
		"schedulepublished": "true", "sessionguid": guid(r), "studyburstid": "timeline_retrieved_burst",
		"sessioninstancestartday": "0", "sessioninstanceendday": "0",
		"sessionstarteventid": "study_burst:timeline_retrieved_burst:01", "studyburstnum": "1",
		"participantversion": "2", "assessmentguid": guid(r), "sessioninstanceguid": guid(r),
		"assessmentinstanceguid": instance, "instanceguid": instance, "timewindowguid": guid(r),
		"scheduleguid": guid(r), "schedulemodifiedon": "2022-02-09T23:45:44.010Z",
		"clientinfo": "ClientInfo [appName=MobileToolboxApp, appVersion=73, deviceName=iPhone 7 Plus, osName=iPhone OS, osVersion=15.1, sdkName=BridgeClientKMM, sdkVersion=0]",
	}
}

func build(s Spec, entries []entry) Archive {
	a := Archive{Spec: s, Metadata: Metadata(s), Files: map[string][]byte{}}
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		writeEntry(w, e.name, bytes.NewReader(e.body))
		a.Files[e.name] = e.body
		a.Names = append(a.Names, e.name)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	a.Zip = buf.Bytes()
	return a
}

func writeEntry(w *zip.Writer, name string, body io.Reader) {
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2022, 9, 1, 18, 40, 0, 0, time.UTC)}
	h.SetMode(0o644)
	fw, err := w.CreateHeader(h)
	if err == nil {
		_, err = io.Copy(fw, body)
	}
	if err != nil {
		panic(err)
	}
}

// Upload stores the archive at key in bucket with its S3 metadata, as Bridge exports it.
func Upload(ctx context.Context, c *s3.Client, bucket, key string, a Archive) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(a.Zip),
		ContentLength: aws.Int64(int64(len(a.Zip))), ContentType: aws.String("application/zip"), Metadata: a.Metadata,
	})
	if err != nil {
		return fmt.Errorf("bridgedata: put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// RecordID is a Bridge-like record id (24 characters, like OCJByUtSrVTYtqObYp7XZV_J) for n.
func RecordID(n int) string {
	return guid(rand.New(rand.NewPCG(uint64(n), 0x7265636f72640001)))
}

// MappingFile is the path of testdata/bridge/mapping.json, which maps these archives.
func MappingFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "bridge", "mapping.json")
}
