package badinput

import (
	"encoding/json"
	"strings"
)

// StampToken stands for a token unique to the test run in LIMS documents (sample names), so
// the runs' ids (keyed hashes of the names) never repeat across runs.
const StampToken = "@STAMP@"

// LimsRead is the read every LIMS document of the corpus points at (relative to the queue
// directory, where the test copies lims/reads/).
const LimsRead = "reads/r1.fastq"

// limsDoc is a LIMS directory-queue item (limsexport.QueueFile) as generic JSON, so a case can
// break any part of it; it starts as a valid sample item.
func limsDoc(edit func(doc, sample map[string]any)) []byte {
	sample := map[string]any{"name": "Diag-bad" + StampToken + "-NA00001", "sample_id": "S1", "project": "Diag-bad",
		"flowcell": "A", "flowcell_id": "HBADINPUT", "lane": 1}
	doc := map[string]any{"kind": "samples", "sample": sample, "reads": []any{map[string]any{"source": LimsRead}}}
	if edit != nil {
		edit(doc, sample)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	must(err)
	return b
}

func limsCases() []Case {
	good := limsDoc(nil)
	read := func(fields ...string) map[string]any {
		r := map[string]any{"source": LimsRead}
		for i := 0; i+1 < len(fields); i += 2 {
			r[fields[i]] = fields[i+1]
		}
		return r
	}
	cases := []struct {
		file, expect, bad string
		data              []byte
	}{
		{"malformed.json", "MalformedLimsDocument", "the item cut in the middle of its JSON", good[:len(good)/2]},
		{"too-deep.json", "MalformedLimsDocument", "the reads nest 20 000 arrays", []byte(strings.Replace(string(good), `"reads": [`, `"reads": [`+string(deepJSON(20000))+`,`, 1))},
		{"wrong-types.json", "MalformedLimsDocument", "the lane is a string", limsDoc(func(_, s map[string]any) { s["lane"] = "1" })},
		{"unknown-field.json", "MalformedLimsDocument", "a field the queue format does not have (`command`)", limsDoc(func(d, _ map[string]any) { d["command"] = "rm -rf /" })},
		{"kind-mismatch.json", "MalformedLimsDocument", "kind analyses with a sample document", limsDoc(func(d, _ map[string]any) { d["kind"] = "analyses" })},
		{"lane-zero.json", "MalformedLimsDocument", "lane 0", limsDoc(func(_, s map[string]any) { s["lane"] = 0 })},
		{"lists-reads-itself.json", "MalformedLimsDocument", "the sample document claims three reads of its own (the exporter counts them from the files)",
			limsDoc(func(_, s map[string]any) {
				s["reads"] = []any{map[string]any{"path": "a.fastq", "md5": strings.Repeat("0", 32), "size": 1},
					map[string]any{"path": "b.fastq", "md5": strings.Repeat("0", 32), "size": 1}, map[string]any{"path": "c.fastq", "md5": strings.Repeat("0", 32), "size": 1}}
			})},
		{"read-listed-twice.json", "MalformedLimsDocument", "the same read listed twice", limsDoc(func(d, _ map[string]any) { d["reads"] = []any{read(), read()} })},
		{"md5-lies.json", "ChecksumMismatch", "the LIMS's MD5 of the read is another file's", limsDoc(func(d, _ map[string]any) {
			d["reads"] = []any{read("md5", hexSum([]byte("another read"), true))}
		})},
		{"no-reads.json", "SampleWithoutReads", "a sample without reads", limsDoc(func(d, _ map[string]any) { delete(d, "reads") })},
		{"name-dotdot.json", "InvalidPackage", "the sample is named `..`", limsDoc(func(_, s map[string]any) { s["name"] = ".." })},
		{"name-path.json", "InvalidPackage", "the sample is named `../../tmp/badinput` (a path)", limsDoc(func(_, s map[string]any) { s["name"] = "../../tmp/badinput" + StampToken })},
		{"name-hidden.json", "InvalidPackage", "the sample is named `.hidden`", limsDoc(func(_, s map[string]any) { s["name"] = ".hidden" + StampToken })},
		{"read-path-dotdot.json", "InvalidPackage", "a read stored as `../../escape.fastq` in the package", limsDoc(func(d, _ map[string]any) {
			d["reads"] = []any{read("path", "../../escape"+StampToken+".fastq")}
		})},
		{"analysis-sample-dotdot.json", "InvalidPackage", "an analysis of the sample `../x`", func() []byte {
			b, err := json.Marshal(map[string]any{"kind": "analyses", "analysis": map[string]any{"name": "Diag-bad" + StampToken + "-analysis",
				"type": "annopipe", "samples": []string{"../x"}, "params": map[string]any{"genepanel": "Ciliopati_v5", "taqman": false}, "priority": 1}})
			must(err)
			return b
		}()},
		{"name-too-long.json", "InvalidPackage", "a sample name of 300 characters (more than a file name may have)", limsDoc(func(_, s map[string]any) {
			s["name"] = "Diag-bad" + StampToken + "-" + strings.Repeat("N", 300)
		})},
	}
	out := make([]Case, 0, len(cases)+1)
	for _, c := range cases {
		// Every item names a package of its own, so each has its own run.
		c.data = []byte(strings.ReplaceAll(string(c.data), "Diag-bad"+StampToken+"-NA00001", "Diag-bad"+StampToken+"-"+strings.TrimSuffix(c.file, ".json")))
		out = append(out, Case{Path: "lims/" + c.file, Procedure: "LimsPackageExport",
			Feed:   "copied into the lims-exporter's directory queue as `<unique id>.json` (" + StampToken + " replaced by a unique token), then the `lims-exporter` schedule triggered",
			Expect: c.expect, Bad: c.bad, files: map[string][]byte{"": c.data}})
	}
	out = append(out, Case{Path: "lims/reads/", Procedure: "LimsPackageExport", Support: true,
		Feed: "copied beside the queue items (`" + LimsRead + "`)", Bad: "not bad: the read the LIMS documents point at",
		files: map[string][]byte{"r1.fastq": []byte(goodRead)}})
	return out
}
