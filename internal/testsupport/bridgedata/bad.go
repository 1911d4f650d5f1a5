package bridgedata

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
)

// The bad archives: each must be refused (nothing written for its record) or reported.

// Truncated is a good archive cut short, as an interrupted upload leaves it.
func Truncated(s Spec) Archive {
	a := Good(s)
	a.Zip = a.Zip[:len(a.Zip)*6/10]
	return a
}

// ZipSlip is a good archive plus an entry whose name leaves the archive.
func ZipSlip(s Spec) Archive {
	s = s.withDefaults()
	return build(s, append(files(s, s.rand()), entry{"../../etc/cron.d/evil.json", []byte(`{"x":1}`)}))
}

// Bomb is a good archive whose taskData.json inflates to inflate bytes (blanks around an
// object: valid JSON, just huge) from a few kilobytes; the ZIP is built streaming.
func Bomb(s Spec, inflate int64) Archive {
	s = s.withDefaults()
	a := Archive{Spec: s, Metadata: Metadata(s), Files: map[string][]byte{}}
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range files(s, s.rand()) {
		if e.name == "taskData.json" {
			writeEntry(w, e.name, io.MultiReader(strings.NewReader("{"), io.LimitReader(blanks{}, inflate-2), strings.NewReader("}")))
			a.Names = append(a.Names, e.name)
			continue
		}
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

type blanks struct{}

func (blanks) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// MalformedJSON is an archive whose taskData.json is cut mid-document.
func MalformedJSON(s Spec) Archive {
	return replace(s, "taskData.json", func(b []byte) []byte { return b[:len(b)/2] })
}

// FailsSchema is an archive whose weather.json violates WeatherResult.json: the
// temperature is a string and the identifier is missing (two errors).
func FailsSchema(s Spec) Archive {
	return replace(s, "weather.json", func(b []byte) []byte {
		out := bytes.Replace(b, []byte(`"identifier": "weather",`), nil, 1)
		i := bytes.Index(out, []byte(`"temperature": `))
		j := i + bytes.IndexByte(out[i:], ',')
		return append(append(append([]byte{}, out[:i]...), `"temperature": "warm"`...), out[j:]...)
	})
}

// UnknownAssessment is a valid archive of an assessment the mapping does not know: the files
// only the dataset mapping maps (taskResult.json) and info.json are unmapped.
func UnknownAssessment(s Spec) Archive {
	s.AssessmentID = "unknownassessment"
	return Good(s)
}

func replace(s Spec, name string, f func([]byte) []byte) Archive {
	s = s.withDefaults()
	es := files(s, s.rand())
	for i := range es {
		if es[i].name == name {
			es[i].body = f(es[i].body)
		}
	}
	return build(s, es)
}
