package badinput

import (
	"encoding/json"
	"strings"
)

// Marker is the file a shell would create if it ever ran a name of the corpus: names with
// metacharacters try to touch it. The test checks it never exists.
const Marker = "/tmp/opsflow-badinput-pwned"

// BucketToken and KeyToken stand for the Bridge archive bucket and the key of a valid archive
// the test uploaded, in sqs/ notifications.
const (
	BucketToken = "@BUCKET@"
	KeyToken    = "@KEY@"
)

// EllaFlag is one entry of names/ella-deploy.json: an `opsflow ella deploy` flag with a bad
// value (the other flags valid), and the same value in the EllaDeploy input field Field.
type EllaFlag struct {
	Flag  string `json:"flag"`
	Field string `json:"field"`
	Value string `json:"value"`
}

func jsonOf(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	must(err)
	return b
}

var metachars = []string{";touch " + Marker, "$(touch " + Marker + ")", "`touch " + Marker + "`", "|touch " + Marker, "&&touch " + Marker}

func withMeta(base string) []string {
	out := make([]string, 0, len(metachars))
	for _, m := range metachars {
		out = append(out, base+m)
	}
	return out
}

func nameCases() []Case {
	tags := append([]string{"v1.2-rel", "1.2.3-rel", "v1.2.3", "-v1.2.3-rel", "v1.2.3-rel ", " v1.2.3-rel", "v1.2.3-rel\n", "v01.2.3-rel",
		"v1.2.3-REL", "v1.2.3-rel/../../x", "../v1.2.3-rel", "refs/tags/v1.2.3-rel", "--help", "v1.2.3-rel\x00", "v1.2.3-rel\u202e"},
		withMeta("v1.2.3-rel")...)
	sites := append([]string{"../nsc", "nsc/../tsd", "/etc", ".", "NSC"}, withMeta("nsc")...)
	packages := []string{"..", ".", "../../etc", "a/b", ".hidden", `a\b`, "x\x00y"}
	kinds := append([]string{"../samples", "samples/../backup", "Samples", "samples/"}, withMeta("samples")...)
	datasets := append([]string{"../MotionRecord_v1", "MotionRecord_v1/../x", "a/b", "x=y", ".."}, withMeta("MotionRecord_v1")...)
	recordIDs := append([]string{"../../escape", "a/b", "..", "-rf", strings.Repeat("r", 200)}, withMeta("rec")...)
	metadata := []map[string]string{
		{"assessmentid": ".."}, {"assessmentid": "a/b"}, {"assessmentid": "x=y"}, {"assessmentid": "spelling;touch " + Marker},
		{"assessmentrevision": "-1"}, {"assessmentrevision": "5;touch " + Marker}, {"uploadedon": "../../2022"}, {"uploadedon": "yesterday"},
	}
	var ella []EllaFlag
	for _, v := range []string{"../../../etc/passwd.sif", "/etc/passwd.sif", "ella.sif;touch " + Marker, "$(touch " + Marker + ").sif", "-rf.sif", ".sif"} {
		ella = append(ella, EllaFlag{Flag: "--image", Field: "image", Value: v})
	}
	for _, v := range []string{"../config/usergroups.json", "/etc/passwd", "usergroups.json;touch " + Marker} {
		ella = append(ella, EllaFlag{Flag: "--user-groups", Field: "userGroups", Value: v}, EllaFlag{Flag: "--filter-configs", Field: "filterConfigs", Value: v})
	}
	for _, v := range append([]string{"../v2.0.0", "v2.0.0/../../x", "-v2.0.0"}, withMeta("v2.0.0")...) {
		ella = append(ella, EllaFlag{Flag: "--version", Field: "version", Value: v})
	}
	for _, v := range []string{"ella;touch " + Marker, "../ella", "ella host"} {
		ella = append(ella, EllaFlag{Flag: "--host-queue", Field: "taskQueue", Value: v})
	}
	ella = append(ella, EllaFlag{Flag: "--users", Field: "users", Value: "drift@ous.test\r\nBcc: everyone@ous.test"},
		EllaFlag{Flag: "--message", Field: "downtimeMessage", Value: "-rf ELLA nede"},
		EllaFlag{Flag: "--message", Field: "downtimeMessage", Value: "ELLA nede\n$(touch " + Marker + ")"},
		EllaFlag{Flag: "--window", Field: "window", Value: strings.Repeat("lang ", 100)})
	environments := append([]string{"../prod", "prod/../dev", "prod env", ".."}, withMeta("prod")...)

	starterAndCLI := func(starter, cli string) string {
		return starter + "; and the same value in a Temporal CLI start (" + cli + ")"
	}
	return []Case{
		{Path: "names/release-version.json", Procedure: "ReleaseDeploy", Expect: "InvalidVersion",
			Feed: starterAndCLI("`opsflow release --version <v>` (refused before anything starts)", "`{\"version\":<v>}`; the run fails"),
			Bad:  "release tags that are not vX.Y.Z-rel: `v1.2-rel`, `1.2.3-rel`, `v1.2.3`, `-v1.2.3-rel`, spaces, `..`, shell metacharacters", files: map[string][]byte{"": jsonOf(tags)}},
		{Path: "names/release-site.json", Procedure: "ReleaseDeploy", Expect: "UnknownSite",
			Feed: "`opsflow release --version <new valid v> --sites <site> --wait`",
			Bad:  "site names that are no configured site: paths, `..`, shell metacharacters", files: map[string][]byte{"": jsonOf(sites)}},
		{Path: "names/package.json", Procedure: "PackageImport", Expect: "InvalidPackage",
			Feed: starterAndCLI("`opsflow import --package <name> --wait` (names holding NUL only through the CLI)", "`{\"package\":<name>}`"),
			Bad:  "package names that are not a plain directory name", files: map[string][]byte{"": jsonOf(packages)}},
		{Path: "names/package-kind.json", Procedure: "PackageImport", Expect: "InvalidPackage",
			Feed: starterAndCLI("`opsflow import --package <valid> --kind <kind>` (refused before anything starts)", "`{\"package\":<valid>,\"kind\":<kind>}`"),
			Bad:  "package kinds that are not samples, analyses, ella-incoming or backup", files: map[string][]byte{"": jsonOf(kinds)}},
		{Path: "names/bridge-dataset.json", Procedure: "BridgeJSONToParquet", Expect: "InvalidInput",
			Feed: starterAndCLI("`opsflow bridge --dataset <id>` (refused before anything starts)", "`{\"dataset\":<id>}`"),
			Bad:  "dataset ids that would change an object key's shape", files: map[string][]byte{"": jsonOf(datasets)}},
		{Path: "names/bridge-recordid.json", Procedure: "BridgeNotificationPoll", Expect: Ignored,
			Feed: "a valid archive uploaded with this `recordid` S3 metadata and notified: the poll deletes the notification and starts nothing; `opsflow bridge --key` refuses it",
			Bad:  "record ids that are not Bridge record ids: paths, `..`, an option, 200 characters, shell metacharacters", files: map[string][]byte{"": jsonOf(recordIDs)}},
		{Path: "names/bridge-metadata.json", Procedure: "BridgeArchiveToJSON", Expect: "BridgeArchiveMetadata",
			Feed: "a valid archive uploaded with the S3 metadata of a fresh record id, these keys replaced, then notified and the `bridge-notifications` schedule triggered",
			Bad:  "S3 metadata that would change the partition keys' shape or is no revision or date", files: map[string][]byte{"": jsonOf(metadata)}},
		{Path: "names/ella-deploy.json", Procedure: "EllaDeploy", Expect: "EllaDeployRefused", Cause: "InvalidInput",
			Feed: starterAndCLI("`opsflow ella deploy` with `flag` set to `value`, every other flag valid (refused before anything starts)", "the input with `field` set to `value`; the run is refused before any step on the ELLA host"),
			Bad:  "image and config names that are paths, versions and task queues with `..` or shell metacharacters, an e-mail header injection, option-like and multi-line broadcasts, an overlong window", files: map[string][]byte{"": jsonOf(ella)}},
		{Path: "names/reval-environment.json", Procedure: "RevalidationSync", Expect: "InvalidInput",
			Feed: "`opsflow sync --environment <env> --wait`",
			Bad:  "environment names with `..`, spaces or shell metacharacters (they reach the workflow id and the SQS queue name)", files: map[string][]byte{"": jsonOf(environments)}},
	}
}

func sqsCases() []Case {
	event := func(bucket, key, name string) string {
		b, err := json.Marshal(map[string]any{"Records": []any{map[string]any{"eventSource": "aws:s3", "eventName": name,
			"s3": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{"key": key}}}}})
		must(err)
		return string(b)
	}
	good := event(BucketToken, KeyToken, "ObjectCreated:Put")
	cases := []struct{ file, bad, body string }{
		{"notification-malformed.json", "an S3 event cut in the middle of its JSON", good[:len(good)/2]},
		{"notification-no-records.json", "a JSON object without Records", `{"Event":"s3:ObjectCreated:Put","Bucket":"` + BucketToken + `"}`},
		{"notification-wrong-types.json", "Records is a string", `{"Records":"` + KeyToken + `"}`},
		{"notification-too-deep.json", "Records nest 20 000 arrays", `{"Records":` + string(deepJSON(20000)) + `}`},
		{"notification-sns-malformed.json", "an SNS envelope whose Message is not JSON", `{"Type":"Notification","Message":"{\"Records\":[{"}`},
		{"notification-dotdot-key.json", "the archive's key with `../` in front", event(BucketToken, "../"+KeyToken, "ObjectCreated:Put")},
		{"notification-other-bucket.json", "an archive in another bucket", event("someone-elses-bucket", KeyToken, "ObjectCreated:Put")},
		{"notification-removed.json", "an ObjectRemoved event of the archive", event(BucketToken, KeyToken, "ObjectRemoved:Delete")},
		{"notification-metachar-key.json", "a key of shell metacharacters", event(BucketToken, "$(touch%20"+strings.ReplaceAll(Marker, "/", "%2F")+");.zip", "ObjectCreated:Put")},
	}
	out := make([]Case, 0, len(cases))
	for _, c := range cases {
		out = append(out, Case{Path: "sqs/" + c.file, Procedure: "BridgeNotificationPoll", Expect: Ignored,
			Feed: "sent as the body of one message on the Bridge notification queue (" + BucketToken + " and " + KeyToken + " replaced by the archive bucket and a valid archive's key), then the `bridge-notifications` schedule triggered",
			Bad:  c.bad, files: map[string][]byte{"": []byte(c.body)}})
	}
	return out
}
