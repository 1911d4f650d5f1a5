package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Mapping decides which dataset each file of an archive belongs to and which JSON Schema
// it must satisfy: the configuration the original spreads over schema_mapping.json,
// dataset_mapping.json and the archive map of mobile-client-json. It is loaded once at
// worker start (LoadMapping) and only read afterwards.
//
// The mapping file is JSON (testdata/bridge/mapping.json is an example):
//
//	{
//	  "appId": "mobile-toolbox",
//	  "schemas": {
//	    "<schema reference>": "schemas/ArchiveMetadata.json",
//	    "<schema reference>": {"$schema": "...", "type": "object"}
//	  },
//	  "assessmentSchemas": {"<assessmentIdentifier>": {"<revision>": {"<file name>": "<schema reference>"}}},
//	  "fileSchemas": {"<file name>": "<schema reference>"},
//	  "schemaMapping": {"<schema reference>": "<dataset id>"},
//	  "datasetMapping": {"<assessmentIdentifier>": {"<revision>": {"<file name>": "<dataset id>"}}}
//	}
//
// appId is reported in the invalid queue's validation_result (the original hard-codes it).
//
// schemas are the JSON Schemas validation uses, keyed by the reference archives and the
// mapping use (the schema's $id, usually its URL): a file path (relative to the mapping
// file) or the schema inline. Schemas may $ref each other by these references; nothing is
// fetched from the network. A reference with no schema here is not validated.
//
// A file's schema reference is, in this order: the archive's own metadata.json
// files[].jsonSchema for that file name; assessmentSchemas (the archive map's assessments:
// the greatest revision <= the record's, then the file name); fileSchemas (the archive
// map's app and inter-app anyOf).
//
// A file's dataset is schemaMapping[its schema reference]; else datasetMapping (the greatest
// revision <= the record's assessmentrevision, then the file name); else the file is
// unmapped (reported, not written).
//
// File names are the entry's base name; "microphone.json" is looked up as
// "microphone_levels.json" (as the original) except in the archive's own metadata.json.
type Mapping struct {
	// AppID is validation_result.appId.
	AppID string
	// SchemaMapping maps a schema reference to its dataset.
	SchemaMapping map[string]string
	// DatasetMapping maps assessment → revision → file name → dataset.
	DatasetMapping map[string]map[int]map[string]string
	// AssessmentSchemas maps assessment → revision → file name → schema reference.
	AssessmentSchemas map[string]map[int]map[string]string
	// FileSchemas maps a file name → schema reference, for any assessment.
	FileSchemas map[string]string
	schemas     map[string]*jsonschema.Schema
}

// mappingFile is the file format (see Mapping).
type mappingFile struct {
	AppID             string                                  `json:"appId"`
	Schemas           map[string]json.RawMessage              `json:"schemas"`
	AssessmentSchemas map[string]map[string]map[string]string `json:"assessmentSchemas"`
	FileSchemas       map[string]string                       `json:"fileSchemas"`
	SchemaMapping     map[string]string                       `json:"schemaMapping"`
	DatasetMapping    map[string]map[string]map[string]string `json:"datasetMapping"`
}

// LoadMapping reads the mapping file at path and compiles its schemas; schema files are
// relative to the mapping file's directory. Its errors name the file and the entry at fault.
func LoadMapping(path string) (*Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bridge mapping: %w", err)
	}
	m, err := ParseMapping(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("bridge mapping %s: %w", path, err)
	}
	return m, nil
}

// ParseMapping reads a mapping file's content; schema file paths are relative to dir.
func ParseMapping(data []byte, dir string) (*Mapping, error) {
	var f mappingFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a mapping file: %w", err)
	}
	m := &Mapping{AppID: f.AppID, SchemaMapping: f.SchemaMapping, FileSchemas: f.FileSchemas}
	if m.AppID == "" {
		return nil, fmt.Errorf("appId is empty")
	}
	for ref, ds := range m.SchemaMapping {
		if err := CheckDataset(ds); err != nil {
			return nil, fmt.Errorf("schemaMapping[%q]: %w", ref, err)
		}
	}
	var err error
	if m.DatasetMapping, err = byRevision("datasetMapping", f.DatasetMapping, CheckDataset); err != nil {
		return nil, err
	}
	if m.AssessmentSchemas, err = byRevision("assessmentSchemas", f.AssessmentSchemas, nil); err != nil {
		return nil, err
	}
	if m.schemas, err = compileSchemas(f.Schemas, dir); err != nil {
		return nil, err
	}
	return m, nil
}

// byRevision turns the file's revision keys into numbers and checks the values.
func byRevision(what string, in map[string]map[string]map[string]string, check func(string) error) (map[string]map[int]map[string]string, error) {
	out := map[string]map[int]map[string]string{}
	for assessment, revs := range in {
		out[assessment] = map[int]map[string]string{}
		for rev, files := range revs {
			n, err := strconv.Atoi(rev)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%s[%q]: revision %q is not a number", what, assessment, rev)
			}
			for name, v := range files {
				if v == "" {
					return nil, fmt.Errorf("%s[%q][%q][%q] is empty", what, assessment, rev, name)
				}
				if check != nil {
					if err := check(v); err != nil {
						return nil, fmt.Errorf("%s[%q][%q][%q]: %w", what, assessment, rev, name, err)
					}
				}
			}
			out[assessment][n] = files
		}
	}
	return out, nil
}

// compileSchemas adds every schema as a resource (so they can $ref each other), then compiles each.
func compileSchemas(in map[string]json.RawMessage, dir string) (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	refs := make([]string, 0, len(in))
	for ref := range in {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	for _, ref := range refs {
		raw := bytes.TrimSpace(in[ref])
		if len(raw) > 0 && raw[0] == '"' {
			var file string
			if err := json.Unmarshal(raw, &file); err != nil {
				return nil, fmt.Errorf("schemas[%q]: %w", ref, err)
			}
			if !filepath.IsAbs(file) {
				file = filepath.Join(dir, file)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("schemas[%q]: %w", ref, err)
			}
			raw = b
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("schemas[%q]: not JSON: %w", ref, err)
		}
		if err := c.AddResource(resourceURL(ref), doc); err != nil {
			return nil, fmt.Errorf("schemas[%q]: %w", ref, err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, ref := range refs {
		s, err := c.Compile(resourceURL(ref))
		if err != nil {
			return nil, fmt.Errorf("schemas[%q]: %w", ref, err)
		}
		out[ref] = s
	}
	return out, nil
}

// resourceURL makes a reference usable as a compiler resource: references without a scheme
// (the original's "schemas/v0/..." $ids) are placed under a local base instead of the
// working directory.
func resourceURL(ref string) string {
	if i := strings.Index(ref, "://"); i > 0 || strings.HasPrefix(ref, "urn:") {
		return ref
	}
	return "https://schemas.opsflow.invalid/" + strings.TrimPrefix(ref, "/")
}

// noLoader refuses to load anything: every schema comes from the mapping file.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not in the mapping file's schemas (nothing is fetched)", url)
}

// Choice is the decision for one file of an archive.
type Choice struct {
	// File is the entry's name in the archive.
	File string
	// Dataset is where the file is written; "" = unmapped.
	Dataset string
	// SchemaRef is the file's schema reference; "" = none.
	SchemaRef string
	// Schema validates the file; nil when SchemaRef is "" or has no configured schema.
	Schema *jsonschema.Schema
}

// Record is what the mapping needs to know about an archive's record.
type Record struct {
	AssessmentID string
	Revision     int
	// SelfRefs are the archive's own metadata.json files[].filename → jsonSchema.
	SelfRefs map[string]string
}

// Choose decides the dataset and schema of the archive entry named file.
func (m *Mapping) Choose(rec Record, file string) Choice {
	c := Choice{File: file}
	base := path.Base(file)
	lookup := base
	if lookup == "microphone.json" {
		lookup = "microphone_levels.json"
	}
	if ref, ok := rec.SelfRefs[base]; ok && ref != "" {
		c.SchemaRef = ref
	} else if files := latest(m.AssessmentSchemas[rec.AssessmentID], rec.Revision); files[lookup] != "" {
		c.SchemaRef = files[lookup]
	} else {
		c.SchemaRef = m.FileSchemas[lookup]
	}
	if c.SchemaRef != "" {
		c.Schema = m.schemas[c.SchemaRef]
		c.Dataset = m.SchemaMapping[c.SchemaRef]
	}
	if c.Dataset == "" {
		c.Dataset = latest(m.DatasetMapping[rec.AssessmentID], rec.Revision)[lookup]
	}
	return c
}

// latest is the entry of the greatest revision <= rev (nil if none).
func latest(byRev map[int]map[string]string, rev int) map[string]string {
	revs := make([]int, 0, len(byRev))
	for r := range byRev {
		if r <= rev {
			revs = append(revs, r)
		}
	}
	if len(revs) == 0 {
		return nil
	}
	return byRev[slices.Max(revs)]
}

// SchemaRefs lists the references that have a configured schema, sorted.
func (m *Mapping) SchemaRefs() []string {
	out := make([]string, 0, len(m.schemas))
	for ref := range m.schemas {
		out = append(out, ref)
	}
	sort.Strings(out)
	return out
}
