package bridgedata

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Schema references the archives use; testdata/bridge/mapping.json configures them.
const (
	ArchiveMetadataSchema = "https://sage-bionetworks.github.io/mobile-client-json/schemas/v2/ArchiveMetadata.json"
	TaskDataSchema        = "https://raw.githubusercontent.com/MobileToolbox/MTBfx/937cdd1bf3b09815e97b53632c58208a14255b34/JSONschema/taskData_combinedSchema.json"
	MotionSchema          = "https://sage-bionetworks.github.io/mobile-client-json/schemas/v2/MotionRecord.json"
	WeatherSchema         = "https://sage-bionetworks.github.io/mobile-client-json/schemas/v2/WeatherResult.json"
)

// obj is a JSON object written with its keys in the order given (as apps write them).
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, f := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(f.k)
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// round keeps d decimals, as sensors report them.
func round(x float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(x*p) / p
}

func iso(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// files builds the archive's JSON files for spec; r drives every varying value.
func files(s Spec, r *rand.Rand) []entry {
	start := s.start()
	end := start.Add(time.Duration(60+r.IntN(240)) * time.Second)
	var out []entry
	add := func(name string, v any) { out = append(out, entry{name, mustJSON(v)}) }

	add("info.json", obj{{"files", []obj{{{"filename", "taskData.json"}, {"contentType", "application/json"}}}},
		{"dataFilename", "taskData.json"}, {"format", "v2_generic"}, {"item", "Spelling"}, {"schemaRevision", 1},
		{"appVersion", "version 1.3.2, build 73"}, {"phoneInfo", "iPhone 7 Plus; iOS/15.1"}})
	fileInfo := func(name, schema string) obj {
		o := obj{{"filename", name}, {"timestamp", iso(end)}, {"contentType", "application/json"}}
		if schema != "" {
			o = append(o, kv{"jsonSchema", schema})
		}
		return o
	}
	add("metadata.json", obj{{"appName", "MobileToolboxApp"}, {"appVersion", "1.3.2"}, {"deviceInfo", "iPhone 7 Plus; iOS/15.1"},
		{"deviceTypeIdentifier", "iPhone9,2"}, {"files", []obj{fileInfo("taskData.json", TaskDataSchema), fileInfo("taskResult.json", ""),
			fileInfo("motion.json", ""), fileInfo("microphone.json", ""), fileInfo("weather.json", WeatherSchema)}}})
	add("taskData.json", taskData(s, r, start, end))
	add("taskResult.json", obj{{"identifier", "Spelling"}, {"taskRunUUID", guid(r)}, {"startDate", iso(start)}, {"endDate", iso(end)},
		{"asyncResults", []any{}}, {"stepHistory", []obj{
			{{"identifier", "practice_1"}, {"type", "answer"}, {"startDate", iso(start)}, {"answerType", obj{{"type", "string"}}}, {"value", "cat"}},
			{{"identifier", "test_1"}, {"type", "answer"}, {"startDate", iso(start.Add(20 * time.Second))}, {"answerType", obj{{"type", "string"}}}, {"value", "house"}},
		}}})
	add("motion.json", motion(s, r, start))
	add("microphone.json", microphone(r))
	add("weather.json", obj{{"type", "weather"}, {"identifier", "weather"}, {"startDate", iso(start)}, {"endDate", iso(end)},
		{"weather", obj{{"provider", "openWeather"}, {"startDate", iso(start)}, {"temperature", round(5+r.Float64()*25, 2)},
			{"humidity", float64(20 + r.IntN(70))}, {"seaLevelPressure", float64(990 + r.IntN(40))}, {"clouds", float64(r.IntN(100))},
			{"wind", obj{{"speed", round(r.Float64()*10, 2)}, {"degrees", float64(r.IntN(360))}, {"gust", nil}}}}},
		{"airQuality", obj{{"provider", "airNow"}, {"aqi", 20 + r.IntN(80)}, {"category", obj{{"number", 1}, {"name", "Good"}}}}}})
	return out
}

// taskData: the task and its steps, each step with its interactions; an instruction step
// without interactions (an empty list) and a step whose score is null.
func taskData(s Spec, r *rand.Rand, start, end time.Time) obj {
	words := []string{"cat", "house", "bridge", "science", "necessary", "rhythm", "queue", "separate"}
	var steps []obj
	steps = append(steps, obj{{"stepIdentifier", "instructions"}, {"stepType", "instruction"}, {"startDate", iso(start)},
		{"endDate", iso(start.Add(8 * time.Second))}, {"score", nil}, {"userInteractions", []obj{}}})
	raw := 0
	t := start.Add(8 * time.Second)
	for i := range s.steps() {
		w := words[i%len(words)]
		var inter []obj
		for j := range len(w) {
			t = t.Add(time.Duration(200+r.IntN(600)) * time.Millisecond)
			inter = append(inter, obj{{"controlEvent", "keyboard"}, {"timestamp", iso(t)}, {"value", w[j : j+1]}})
		}
		inter = append(inter, obj{{"controlEvent", "submit"}, {"timestamp", iso(t)}, {"value", nil}})
		score := r.IntN(2)
		raw += score
		typ := "test"
		if i == 0 {
			typ = "practice"
		}
		steps = append(steps, obj{{"stepIdentifier", fmt.Sprintf("%s_%d", typ, i+1)}, {"stepType", typ}, {"startDate", iso(t.Add(-5 * time.Second))},
			{"endDate", iso(t)}, {"score", score}, {"responseTime", round(1+r.Float64()*6, 3)}, {"didTimeout", false}, {"userInteractions", inter}})
	}
	steps = append(steps, obj{{"stepIdentifier", "completion"}, {"stepType", "completion"}, {"startDate", iso(end)}, {"userInteractions", []obj{}}})
	return obj{{"taskName", "Spelling"}, {"taskVersion", "1.0.3"}, {"taskStatus", []string{"completed"}}, {"startDate", iso(start)},
		{"endDate", iso(end)}, {"steps", steps},
		{"scores", obj{{"rawScore", raw}, {"totalItems", s.steps()}, {"accuracy", round(float64(raw)/float64(s.steps()), 4)}}},
		{"userContext", obj{{"deviceWakeTime", nil}, {"orientation", "portrait"}}}}
}

var sensors = []string{"accelerometer", "gyro", "magnetometer", "attitude", "gravity", "userAcceleration"}

// motion: one record per sensor sample, attitude samples with a quaternion's w.
func motion(s Spec, r *rand.Rand, start time.Time) []obj {
	uptime := 100000 + round(r.Float64()*1000, 3)
	out := make([]obj, 0, s.motionSamples())
	for i := range s.motionSamples() {
		sensor := sensors[i%len(sensors)]
		ts := round(float64(i)*0.01, 3)
		o := obj{{"stepPath", fmt.Sprintf("Spelling/test_%d", 1+i/50)}, {"uptime", round(uptime+ts, 3)}, {"timestamp", ts},
			{"sensorType", sensor}, {"x", round(r.NormFloat64(), 6)}, {"y", round(r.NormFloat64(), 6)}, {"z", round(r.NormFloat64(), 6)}}
		if i == 0 {
			o = append(o, kv{"timestampDate", iso(start)})
		}
		if sensor == "attitude" {
			o = append(o, kv{"w", round(r.Float64(), 6)}, kv{"referenceCoordinate", "XMagneticNorthZVertical"})
		}
		out = append(out, o)
	}
	return out
}

// microphone: the audio levels (the mapping looks the file up as microphone_levels.json).
func microphone(r *rand.Rand) []obj {
	out := make([]obj, 0, 10)
	for i := range 10 {
		out = append(out, obj{{"uptime", round(100000+float64(i)*0.5, 3)}, {"timestamp", float64(i) * 0.5}, {"stepPath", "Spelling/test_1"},
			{"timeInterval", 0.5}, {"average", round(-60+r.Float64()*20, 2)}, {"peak", round(-40+r.Float64()*20, 2)}, {"unit", "dbFS"}})
	}
	return out
}

const guidChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// guid is a Bridge-like 24-character id.
func guid(r *rand.Rand) string {
	b := make([]byte, 24)
	for i := range b {
		b[i] = guidChars[r.IntN(len(guidChars))]
	}
	return string(b)
}
