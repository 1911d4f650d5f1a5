package bridge

import (
	"bytes"
	"errors"
	"sort"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// DecodeJSON parses one JSON document as validation and the NDJSON writer need it: numbers
// kept exactly (json.Number, never rounded through float64), nothing after the value.
func DecodeJSON(data []byte) (any, error) {
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

// Validate checks doc (from DecodeJSON) against the choice's schema and returns every
// violation as "at '<JSON pointer>': <reason>", sorted; nil when it conforms or when the
// file has no configured schema.
func (c Choice) Validate(doc any) []string {
	if c.Schema == nil {
		return nil
	}
	err := c.Schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	var msgs []string
	leaves(ve, &msgs)
	sort.Strings(msgs)
	return msgs
}

// leaves collects the innermost errors: the ones that say what is wrong where.
func leaves(e *jsonschema.ValidationError, out *[]string) {
	if len(e.Causes) == 0 {
		*out = append(*out, e.Error()) // a leaf displays as "at '<pointer>': <reason>"
		return
	}
	for _, c := range e.Causes {
		leaves(c, out)
	}
}

// SelfRefs reads the archive's own metadata.json (decoded): files[].filename → jsonSchema,
// the schema references that take precedence over the mapping's. Entries without both are
// ignored, as the original.
func SelfRefs(metadata any) map[string]string {
	out := map[string]string{}
	obj, _ := metadata.(map[string]any)
	files, _ := obj["files"].([]any)
	for _, f := range files {
		fo, _ := f.(map[string]any)
		name, _ := fo["filename"].(string)
		ref, _ := fo["jsonSchema"].(string)
		if name != "" && ref != "" {
			out[name] = ref
		}
	}
	return out
}
