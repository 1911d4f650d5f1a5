package estest

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

var jsonCorpus = []string{
	`{}`, `[]`, `{"a":1}`, ` { "a" : [ 1 , 2.5e-3 , -0 , true , false , null , "x" ] } `,
	`{"gmcReferenceNumber":"1234567","existsInGmc":true,"tcsPersonId":42,"n":{"m":{"o":[{"p":"q"}]}}}`,
	`"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`, `"\u00e9\u4e2d\ud83d\ude00"`, `"\ud83d"`, `"\ude00x"`, `"\ud83d\u0041"`,
	"\"caf\xc3\xa9\"", "\"bad \xff\xfe utf8\"", "\"bad \\n and \xff\"", `{"a":1,"a":2}`, `-12.5E+10`, `0`, `1e5`,
	`{"a":1,}`, `{"a" 1}`, `[1,]`, `[1 2]`, `{"a":tru}`, `{"a":truex}`, `01`, `-`, `1.`, `.5`, `1e`, `"\x"`, `"\u12"`,
	`"\u12G4"`, "\"ctl \x01\"", `{"a":1}x`, ``, `   `, `{`, `[`, `"abc`, `{"a":[1,2,{"b":null}]}`, `nul`, `[-]`,
	`{"":""}`, `"\u0000"`, `1E-0`, `-0.0e+00`, `0}0`, `[1]]`,
}

// decodeStd is what the parser must agree with: encoding/json with UseNumber, on
// exactly one JSON value.
func decodeStd(b []byte) (any, error) {
	if !json.Valid(b) {
		return nil, errors.New("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func checkJSONAgrees(t *testing.T, in string) {
	t.Helper()
	want, werr := decodeStd([]byte(in))
	got, gerr := newJSONParser().parse([]byte(in))
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: encoding/json err %v, estest parser err %v", in, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("%q: encoding/json %#v, estest parser %#v", in, want, got)
	}
}

func TestJSONParserAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range jsonCorpus {
		checkJSONAgrees(t, in)
	}
}

func FuzzJSONParser(f *testing.F) {
	for _, in := range jsonCorpus {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if json.Valid([]byte(in)) || len(in) < 200 {
			checkJSONAgrees(t, in)
		}
	})
}
