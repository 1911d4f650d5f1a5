package activities

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// TestFetchRefusesKeysWithDotOrEmptySegments lists packages holding an object whose key has
// a ".", ".." or empty segment beside a good read: the whole package is refused, naming the
// key, and nothing is written into the durable area.
//
// AWS S3 stores such keys verbatim; the stack's versitygw cannot (its posix backend stores
// "pkg/." as "pkg", "pkg/a/../x" as "pkg/x", and answers 400 to "pkg/.."). So each object is
// a real object on the server under a plain name, and only its name in the server's listing
// is replaced by the key AWS would list (s3Tap.listAs).
func TestFetchRefusesKeysWithDotOrEmptySegments(t *testing.T) {
	a, _ := newImport(t)
	for i, rel := range []string{".", "..", "/x", "a//x", "a/./x", "a/../x", "a/.", "a/..", "a/"} {
		name := "Diag-key" + string(rune('a'+i))
		plantPackage(t, a, name, map[string]string{"R1.fastq.gz": "ACGT\n"}, nil)
		prefix := samplepkg.ObjectPrefix(samplepkg.KindSample, name)
		key := prefix + rel
		s3test.Put(t, a.S3, a.Bucket, prefix+"stand-in", []byte("body of "+key), nil)
		listed, tp := newTap(t, a, "")
		tp.listAs = map[string]string{prefix + "stand-in": key}
		_, err := activityEnvFor(listed).ExecuteActivity(listed.FetchPackage, ImportInput{Package: name})
		app := requireAppError(t, err, ErrUnsafeObjectKey)
		assert.Contains(t, app.Error(), strconv.Quote(key), "the error names the key")
		entries, _ := os.ReadDir(a.DurableDir)
		assert.Empty(t, entries, "nothing written for %q", key)
	}
}

// publishHelperEnv carries a staged package to the traced publish (see TestMain).
const publishHelperEnv = "OPSFLOW_TEST_PUBLISH_STAGED"

type publishHelperInput struct {
	Durable string      `json:"durable"`
	Package string      `json:"package"`
	Staged  FetchResult `json:"staged"`
}

// TestMain runs the publish step alone, and nothing else, when the test binary is started by
// TestPublishSyncsDataBeforeTheMoveAndReadyLast under strace (publishHelperEnv set): the traced
// process then holds only that step's system calls. Otherwise it runs the tests as usual.
func TestMain(m *testing.M) {
	if raw := os.Getenv(publishHelperEnv); raw != "" {
		os.Exit(publishUnderStrace(raw))
	}
	os.Exit(m.Run())
}

func publishUnderStrace(raw string) int {
	var in publishHelperInput
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		fmt.Fprintln(os.Stderr, "publish helper:", err)
		return 2
	}
	h, err := ident.NewHasher([]byte("test-identifier-key"), true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "publish helper:", err)
		return 2
	}
	a := &ImportActivities{DurableDir: in.Durable, Hasher: h}
	if _, err := activityEnvFor(a).ExecuteActivity(a.PublishPackage, ImportInput{Package: in.Package}, in.Staged); err != nil {
		fmt.Fprintln(os.Stderr, "publish helper:", err)
		return 1
	}
	return 0
}

// TestPublishSyncsDataBeforeTheMoveAndReadyLast publishes a verified package in a process
// traced by strace and reads the order of its real system calls: every staged file and
// directory is fsynced before the rename into samples/, both parents after it, and READY is
// created after all of that and fsynced with the package directory. (A host crash cannot be
// staged in a test; what it would lose is exactly what was not fsynced before READY.)
func TestPublishSyncsDataBeforeTheMoveAndReadyLast(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace is not installed: scripts/stack up installs it (apt-get install strace)")
	}
	a, env := newImport(t)
	plantPackage(t, a, "Diag-sync1", map[string]string{"R1.fastq.gz": "ACGT\n", "lane2/R2.fastq.gz": "TTGA\n"}, nil)
	in := ImportInput{Package: "Diag-sync1"}
	v, err := env.ExecuteActivity(a.FetchPackage, in)
	require.NoError(t, err)
	var staged FetchResult
	require.NoError(t, v.Get(&staged))
	_, err = env.ExecuteActivity(a.VerifyPackage, in, staged)
	require.NoError(t, err)

	arg, err := json.Marshal(publishHelperInput{Durable: a.DurableDir, Package: in.Package, Staged: staged})
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(strace, "-f", "-y", "-qq", "-o", out, "-e", "trace=openat,fsync,fdatasync,rename,renameat,renameat2",
		os.Args[0])
	cmd.Env = append(os.Environ(), publishHelperEnv+"="+string(arg))
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", msg)
	trace, err := os.ReadFile(out)
	require.NoError(t, err)

	dest := a.layout().PublishedDir(in.Package)
	lines := strings.Split(string(trace), "\n")
	find := func(what string, re *regexp.Regexp) int {
		for i, l := range lines {
			if re.MatchString(l) && !strings.Contains(l, "= -1") {
				return i
			}
		}
		t.Errorf("no %s in the trace:\n%s", what, trace)
		return -1
	}
	q := regexp.QuoteMeta
	fsync := func(path string) *regexp.Regexp { return regexp.MustCompile(`fsync\(\d+<` + q(path) + `>\)`) }
	move := find("rename of the staging directory", regexp.MustCompile(`rename.*"`+q(staged.StagingDir)+`".*"`+q(dest)+`"`))
	ready := find("creation of READY", regexp.MustCompile(`openat\(.*`+q(filepath.Join(dest, samplepkg.ReadyMarker))+`.*O_CREAT`))
	for _, p := range []string{"R1.fastq.gz", "lane2/R2.fastq.gz", "Diag-sync1.sample", "lane2", "."} {
		i := find("fsync of staged "+p, fsync(filepath.Join(staged.StagingDir, p)))
		assert.Less(t, i, move, "%s is fsynced before the move", p)
	}
	for _, dir := range []string{filepath.Dir(dest), filepath.Dir(staged.StagingDir)} {
		i := find("fsync of "+dir, regexp.MustCompile(`fsync\(\d+<`+q(dir)+`>\)`))
		assert.Greater(t, i, move, "%s is fsynced after the move", dir)
		assert.Less(t, i, ready, "%s is fsynced before READY", dir)
	}
	assert.Greater(t, find("fsync of READY", fsync(filepath.Join(dest, samplepkg.ReadyMarker))), ready)
	last := -1
	for i, l := range lines {
		if fsync(dest).MatchString(l) {
			last = i
		}
	}
	assert.Greater(t, last, ready, "the package directory is fsynced after READY is written")
	assert.Equal(t, ready, lastOpenForWrite(lines, a.DurableDir), "READY is the last file opened for writing")
}

// lastOpenForWrite is the index of the last line of the trace that opens a file under root
// for writing.
func lastOpenForWrite(lines []string, root string) int {
	last := -1
	for i, l := range lines {
		if strings.Contains(l, "openat(") && strings.Contains(l, root) && (strings.Contains(l, "O_WRONLY") || strings.Contains(l, "O_RDWR")) {
			last = i
		}
	}
	return last
}
