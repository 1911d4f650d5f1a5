package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opsflow/opsflow/internal/bridge"
)

// The two generated datasets, as stage 1 writes them (one NDJSON object per record).
const (
	motionDataset = "MotionRecord_v1"
	taskDataset   = "sharedSchema_v1"
)

var datasets = []string{motionDataset, taskDataset}

// The assessments records are spread over; with -days days each gives the partitions.
var assessments = []string{"spelling", "dccs", "memory-for-sequences"}

var sensors = []string{"accelerometer", "gyro", "magnetometer", "attitude", "userAcceleration", "gravity"}

// dataset is one generated dataset: its NDJSON objects' keys (relative to the data
// root, as in S3), records and bytes.
type dataset struct {
	name    string
	keys    []string
	records int64
	bytes   int64
}

// generate writes about o.gib GiB of NDJSON under root (raw_json/dataset=<id>/<partition>/
// <recordid>.ndjson, bridge.RawJSONKey): each simulated archive gives one motion record (an
// array of sensor samples of every sensor, interleaved, and a device object) and one
// taskData record (steps with nested children and an array of tap times, user interactions,
// a scores object). The data is seeded, so two runs with the same flags write the same bytes;
// with write false nothing is written (-data: the files are there from an earlier run).
func generate(root string, o options, write bool) ([]*dataset, error) {
	rng := rand.New(rand.NewPCG(uint64(o.seed), 0x5eed))
	target := int64(o.gib * (1 << 30))
	sets := map[string]*dataset{}
	var out []*dataset
	for _, n := range datasets {
		d := &dataset{name: n}
		sets[n] = d
		out = append(out, d)
	}
	start := time.Date(2022, 9, 1, 8, 0, 0, 0, time.UTC)
	var total int64
	var buf []byte
	for i := 0; total < target; i++ {
		recordID := fmt.Sprintf("rec-%08d-%04x", i, rng.Uint32()&0xffff)
		aid := assessments[rng.IntN(len(assessments))]
		uploaded := start.Add(time.Duration(rng.IntN(o.days*24)) * time.Hour)
		p, err := bridge.PartitionOf(aid, uploaded.Format("2006-01-02T15:04:05.000Z"))
		if err != nil {
			return nil, err
		}
		for _, ds := range datasets {
			buf = buf[:0]
			if ds == motionDataset {
				buf = motionRecord(buf, rng, recordID, p, uploaded)
			} else {
				buf = taskRecord(buf, rng, recordID, p, uploaded)
			}
			buf = append(buf, '\n')
			key := bridge.RawJSONKey(ds, p, recordID)
			if write {
				if err := writeFile(filepath.Join(root, filepath.FromSlash(key)), buf); err != nil {
					return nil, err
				}
			}
			d := sets[ds]
			d.keys = append(d.keys, key)
			d.records++
			d.bytes += int64(len(buf))
			total += int64(len(buf))
		}
	}
	return out, nil
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	if _, err := w.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// jsonBuf appends JSON by hand: the generator must outpace both converters by far.
type jsonBuf []byte

func (b jsonBuf) key(k string) jsonBuf {
	if n := len(b); n > 0 && b[n-1] != '{' && b[n-1] != '[' {
		b = append(b, ',')
	}
	b = strconv.AppendQuote(b, k)
	return append(b, ':')
}

func (b jsonBuf) str(k, v string) jsonBuf { return strconv.AppendQuote(b.key(k), v) }
func (b jsonBuf) num(k string, v float64) jsonBuf {
	return strconv.AppendFloat(b.key(k), v, 'f', -1, 64)
}
func (b jsonBuf) int(k string, v int64) jsonBuf { return strconv.AppendInt(b.key(k), v, 10) }
func (b jsonBuf) bool(k string, v bool) jsonBuf { return strconv.AppendBool(b.key(k), v) }
func (b jsonBuf) null(k string) jsonBuf         { return append(b.key(k), "null"...) }
func (b jsonBuf) open(k string, c byte) jsonBuf { return append(b.key(k), c) }
func (b jsonBuf) elem() jsonBuf {
	if n := len(b); n > 0 && b[n-1] != '[' {
		b = append(b, ',')
	}
	return b
}

// partitionFields are the fields stage 1 injects into every record (facts A2; year, month and
// day as integers, as the original's int(uploaded_on.year)).
func (b jsonBuf) partitionFields(recordID string, p bridge.Partition) jsonBuf {
	return b.str("recordid", recordID).str("assessmentid", p.AssessmentID).
		int("year", int64(p.Year)).int("month", int64(p.Month)).int("day", int64(p.Day))
}

func round(v float64, digits int) float64 {
	s := strconv.FormatFloat(v, 'f', digits, 64)
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// motionRecord is a MobileToolbox motion.json as one record: 50 to 250 samples of the six
// sensors interleaved (attitude with a w component and a reference frame, the others null
// there), the device and a list of the sensors recorded.
func motionRecord(buf []byte, rng *rand.Rand, recordID string, p bridge.Partition, t time.Time) []byte {
	b := jsonBuf(append(buf, '{')).partitionFields(recordID, p)
	b = b.str("taskIdentifier", p.AssessmentID).str("startDate", t.Format(time.RFC3339Nano))
	b = b.open("device", '{').str("model", []string{"iPhone12,1", "iPhone14,5", "Pixel 6", "SM-G991U"}[rng.IntN(4)]).
		str("osVersion", []string{"16.1", "17.4", "13", "14"}[rng.IntN(4)]).int("appVersion", int64(40+rng.IntN(5)))
	b = append(b, '}')
	b = b.open("sensors", '[')
	for _, s := range sensors {
		b = strconv.AppendQuote(b.elem(), s)
	}
	b = append(b, ']')
	n := 50 + rng.IntN(201)
	uptime := 1000 + rng.Float64()*1000
	b = b.open("samples", '[')
	for i := 0; i < n; i++ {
		s := sensors[i%len(sensors)]
		b = append(b.elem(), '{')
		b = b.num("timestamp", round(float64(i)*0.01+rng.Float64()*0.001, 6)).num("uptime", round(uptime+float64(i)*0.01, 6))
		b = b.str("stepPath", "Cognition/"+p.AssessmentID+"/step"+strconv.Itoa(i/50)).str("sensorType", s)
		b = b.num("x", round(rng.NormFloat64(), 8)).num("y", round(rng.NormFloat64(), 8)).num("z", round(rng.NormFloat64(), 8))
		if s == "attitude" {
			b = b.num("w", round(rng.Float64(), 8)).str("referenceCoordinate", "North-West-Up")
		} else {
			b = b.null("w").null("referenceCoordinate")
		}
		b = b.int("eventAccuracy", int64(rng.IntN(4)))
		b = append(b, '}')
	}
	b = append(b, ']', '}')
	return b
}

// taskRecord is a taskData.json (the sharedSchema_v1 dataset): 10 to 30 steps, each with
// its response object, an array of tap times (a nested array of scalars) and 0 to 3 children
// steps; user interactions; a scores object.
func taskRecord(buf []byte, rng *rand.Rand, recordID string, p bridge.Partition, t time.Time) []byte {
	b := jsonBuf(append(buf, '{')).partitionFields(recordID, p)
	b = b.str("taskIdentifier", p.AssessmentID).str("taskRunUUID", fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x",
		rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff))
	b = b.str("startDate", t.Format(time.RFC3339Nano)).str("endDate", t.Add(3*time.Minute).Format(time.RFC3339Nano))
	b = b.open("scores", '{').int("rawScore", int64(rng.IntN(40))).num("accuracy", round(rng.Float64(), 4)).
		bool("completed", rng.IntN(10) > 0)
	b = append(b, '}')
	steps := 10 + rng.IntN(21)
	b = b.open("steps", '[')
	for i := 0; i < steps; i++ {
		st := t.Add(time.Duration(i*6) * time.Second)
		b = append(b.elem(), '{')
		b = b.str("identifier", "step"+strconv.Itoa(i)).str("type", []string{"instruction", "question", "countdown"}[i%3])
		b = b.str("startDate", st.Format(time.RFC3339Nano)).str("endDate", st.Add(5*time.Second).Format(time.RFC3339Nano))
		b = b.open("response", '{').str("value", "answer-"+strconv.Itoa(rng.IntN(100))).bool("correct", rng.IntN(3) > 0).
			num("responseTime", round(rng.Float64()*5, 3))
		b = append(b, '}')
		b = b.open("tapTimes", '[')
		for j, taps := 0, rng.IntN(6); j < taps; j++ {
			b = strconv.AppendFloat(b.elem(), round(rng.Float64()*5, 3), 'f', -1, 64)
		}
		b = append(b, ']')
		b = b.open("children", '[')
		for j, kids := 0, rng.IntN(4); j < kids; j++ {
			b = append(b.elem(), '{')
			b = b.str("identifier", "step"+strconv.Itoa(i)+"."+strconv.Itoa(j)).int("score", int64(rng.IntN(3)))
			b = append(b, '}')
		}
		b = append(b, ']', '}')
	}
	b = append(b, ']')
	b = b.open("userInteractions", '[')
	for i, n := 0, 5+rng.IntN(20); i < n; i++ {
		b = append(b.elem(), '{')
		b = b.str("controlEvent", []string{"touchDown", "touchUp", "next", "back"}[rng.IntN(4)]).
			num("timestamp", round(float64(i)*1.5+rng.Float64(), 3)).str("stepIdentifier", "step"+strconv.Itoa(rng.IntN(steps)))
		b = append(b, '}')
	}
	b = append(b, ']', '}')
	return b
}
