package activities

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// fetched runs FetchPackage and returns its result.
func fetched(t *testing.T, a *ImportActivities, in ImportInput) FetchResult {
	t.Helper()
	v, err := activityEnvFor(a).ExecuteActivity(a.FetchPackage, in)
	require.NoError(t, err)
	var staged FetchResult
	require.NoError(t, v.Get(&staged))
	return staged
}

// rewriteStaged replaces a staged file's content in place (same inode) and gives it an
// mtime it did not have: a file changed after the fetch.
func rewriteStaged(t *testing.T, path, body string) {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	later := st.ModTime().Add(time.Second)
	require.NoError(t, os.Chtimes(path, later, later))
}

// TestFetchRecordsTheDigestsOfTheBytesItWrote copies a package of several reads (some of
// several MiB), three at once, and finds beside the staging directory each file's real MD5
// and SHA-256 with the fingerprint of the staged file; the result lists the files in the
// listing's order whatever the concurrency. VerifyPackage then uses those digests instead of
// reading the files: a file corrupted in place after the fetch, its mtime kept, is not
// detected (the documented trade-off), while one rewritten (new mtime) is hashed again and
// refused.
func TestFetchRecordsTheDigestsOfTheBytesItWrote(t *testing.T) {
	a, _ := newImport(t)
	a.CopyConcurrency = 3
	reads := map[string]string{}
	for i, size := range []int{3<<20 + 1, 5, 2 << 20, 0, 9<<20 + 3, 1 << 20} {
		reads[fmt.Sprintf("L%d/R%d.fastq.gz", i%2, i)] = string(randomBody(t, size))
	}
	plantPackage(t, a, "Diag-dig1", reads, nil)
	in := ImportInput{Package: "Diag-dig1"}
	staged := fetched(t, a, in)
	assert.Equal(t, []string{"Diag-dig1.sample", "L0/R0.fastq.gz", "L0/R2.fastq.gz", "L0/R4.fastq.gz",
		"L1/R1.fastq.gz", "L1/R3.fastq.gz", "L1/R5.fastq.gz"}, staged.Files)

	recorded := loadDigests(StagingDigestsFile(staged.StagingDir))
	require.Len(t, recorded, len(reads)+1)
	for p, body := range reads {
		r := recorded[p]
		assert.Equal(t, hexSHA256(body), r.SHA256, p)
		assert.Equal(t, hexMD5(body), r.MD5, p)
		assert.Equal(t, int64(len(body)), r.Size, p)
		st, err := os.Stat(filepath.Join(staged.StagingDir, filepath.FromSlash(p)))
		require.NoError(t, err)
		assert.True(t, r.describes(st), "%s: the fingerprint is the staged file's", p)
	}
	_, err := activityEnvFor(a).ExecuteActivity(a.VerifyPackage, in, staged)
	require.NoError(t, err)

	// Corrupted in place, size and mtime kept: the recorded digests still stand for it.
	path := filepath.Join(staged.StagingDir, "L0", "R2.fastq.gz")
	st, err := os.Stat(path)
	require.NoError(t, err)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("corrupt"), 1000)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chtimes(path, st.ModTime(), st.ModTime()))
	_, err = activityEnvFor(a).ExecuteActivity(a.VerifyPackage, in, staged)
	require.NoError(t, err, "verify trusts the digests of the bytes received for a file unchanged by its fingerprint")

	// Rewritten since (new mtime): hashed from disk, refused.
	body := []byte(reads["L0/R2.fastq.gz"])
	copy(body[1000:], "corrupt")
	rewriteStaged(t, path, string(body))
	_, err = activityEnvFor(a).ExecuteActivity(a.VerifyPackage, in, staged)
	app := requireAppError(t, err, ErrChecksumMismatch)
	assert.Contains(t, app.Error(), "L0/R2.fastq.gz: sha256 "+hexSHA256(string(body))+", want "+hexSHA256(reads["L0/R2.fastq.gz"]))
}

// TestVerifyRefusesRecordedDigestsThatAreNotTheManifests: digests recorded during the copy
// that differ from the manifest's SHA-256 or the .sample's MD5 fail with the same error
// types and messages as digests read from disk, and the findings are kept for the report.
func TestVerifyRefusesRecordedDigestsThatAreNotTheManifests(t *testing.T) {
	a, env := newImport(t)
	const wrongMD5 = "00000000000000000000000000000000"
	reads := map[string]string{"R1.fastq.gz": "ACGT\n", "R2.fastq.gz": "TTGA\n"}
	plantPackage(t, a, "Diag-dig2", reads, map[string]string{"R1.fastq.gz": wrongMD5})
	staged := fetched(t, a, ImportInput{Package: "Diag-dig2"})
	// The manifest as fetched, but for a wrong SHA-256 of R2.
	m := *staged.Manifest
	m.Files = append([]samplepkg.ManifestFile(nil), m.Files...)
	for i := range m.Files {
		if m.Files[i].Path == "R2.fastq.gz" {
			m.Files[i].SHA256 = hexSHA256("TTGC\n")
		}
	}
	staged.Manifest = &m
	require.NotEmpty(t, loadDigests(StagingDigestsFile(staged.StagingDir)))
	_, err := env.ExecuteActivity(a.VerifyPackage, ImportInput{Package: "Diag-dig2"}, staged)
	app := requireAppError(t, err, ErrChecksumMismatch)
	assert.Contains(t, app.Error(), "R1.fastq.gz: md5 "+hexMD5("ACGT\n")+", want "+wrongMD5)
	assert.Contains(t, app.Error(), "R2.fastq.gz: sha256 "+hexSHA256("TTGA\n")+", want "+hexSHA256("TTGC\n"))
	checks := a.loadChecks(staged.PackageID)
	require.Len(t, checks, 2, "the findings are kept for the quarantine report")
	assert.Equal(t, FileCheck{Path: "R1.fastq.gz", Problem: "md5", WantSize: 5, GotSize: 5, WantSHA256: hexSHA256("ACGT\n"),
		GotSHA256: hexSHA256("ACGT\n"), WantMD5: wrongMD5, GotMD5: hexMD5("ACGT\n")}, checks[0])

	_, err = env.ExecuteActivity(a.DiscardStaging, staged)
	require.NoError(t, err)
	assert.NoFileExists(t, StagingDigestsFile(staged.StagingDir), "discarding the staging discards its digests")
}

// TestFetchHashesStagedFilesWithoutRecordedDigests: files staged by an attempt that stopped
// before it recorded their digests (or whose record is corrupt, or stale: another file) are
// hashed from disk by the next fetch, which records them; verify then passes.
func TestFetchHashesStagedFilesWithoutRecordedDigests(t *testing.T) {
	a, _ := newImport(t)
	reads := map[string]string{"R1.fastq.gz": string(randomBody(t, 2<<20+5)), "R2.fastq.gz": "TTGA\n"}
	plantPackage(t, a, "Diag-dig3", reads, nil)
	in := ImportInput{Package: "Diag-dig3"}
	staged := fetched(t, a, in)
	file := StagingDigestsFile(staged.StagingDir)
	for _, damage := range []func(){
		func() { require.NoError(t, os.Remove(file)) },
		func() { require.NoError(t, os.WriteFile(file, []byte(`{"version":1,"files":{`), 0o644)) },
		func() { // a record of another file under the same name: a stale fingerprint
			rec := loadDigests(file)
			r := rec["R1.fastq.gz"]
			r.Ino, r.SHA256, r.MD5 = r.Ino+1, hexSHA256("x"), hexMD5("x")
			rec["R1.fastq.gz"] = r
			require.NoError(t, saveDigests(file, rec))
		},
	} {
		damage()
		again := fetched(t, a, in)
		assert.Equal(t, staged.Files, again.Files)
		recorded := loadDigests(file)
		for p, body := range reads {
			assert.Equal(t, hexSHA256(body), recorded[p].SHA256, p)
			assert.Equal(t, hexMD5(body), recorded[p].MD5, p)
		}
		_, err := activityEnvFor(a).ExecuteActivity(a.VerifyPackage, in, again)
		require.NoError(t, err)
	}
	// Publishing removes the digests with the staging directory.
	_, err := activityEnvFor(a).ExecuteActivity(a.PublishPackage, in, staged)
	require.NoError(t, err)
	assert.NoFileExists(t, file)
	leftovers, _ := filepath.Glob(file + ".tmp-*")
	assert.Empty(t, leftovers)
}

// TestFetchResumesTheCopyAndItsHashesFromTheHeartbeat: an attempt that stopped part-way left a
// part file and a heartbeat with the offset and the MD5 and SHA-256 states after it. The retry
// asks S3 for the rest only and its recorded digests are the object's, though the part file's
// prefix was garbled since (proof that the prefix was not hashed again). A heartbeat without
// states (an older attempt's) hashes the prefix from disk; one recorded under another boot of
// the host starts the object again.
func TestFetchResumesTheCopyAndItsHashesFromTheHeartbeat(t *testing.T) {
	const size, half = 6 << 20, 3<<20 + 17
	body := randomBody(t, size)
	both := []string{checksum.SHA256, checksum.MD5}
	states, err := checksum.HashPrefix(t.Context(), writeTemp(t, body[:half]), both, half)
	require.NoError(t, err)
	for _, tc := range []struct {
		name      string
		progress  func(key string) fetchProgress
		garble    bool
		wantRange string
	}{
		{"states", func(key string) fetchProgress {
			return fetchProgress{Boot: bootID(), Objects: []objectProgress{{Key: key, Written: half, States: states.States}}}
		}, true, fmt.Sprintf("bytes=%d-", half)},
		{"older heartbeat", func(key string) fetchProgress { return fetchProgress{Key: key, Written: half} }, false, fmt.Sprintf("bytes=%d-", half)},
		{"another boot", func(key string) fetchProgress {
			return fetchProgress{Boot: "another-boot", Objects: []objectProgress{{Key: key, Written: half, States: states.States}}}
		}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newImport(t)
			plantPackage(t, a, "Diag-res1", map[string]string{"R1.fastq.gz": string(body)}, nil)
			key := "samples/Diag-res1/R1.fastq.gz"
			tapped, tp := newTap(t, a, key)
			staging := a.layout().StagingDir(samplepkg.ID(a.Hasher, "Diag-res1"))
			require.NoError(t, os.MkdirAll(staging, 0o755))
			prefix := append([]byte(nil), body[:half]...)
			if tc.garble {
				clear(prefix)
			}
			require.NoError(t, os.WriteFile(filepath.Join(staging, "R1.fastq.gz.part"), prefix, 0o644))

			env := activityEnvFor(tapped)
			env.SetHeartbeatDetails(tc.progress(key))
			in := ImportInput{Package: "Diag-res1"}
			v, err := env.ExecuteActivity(tapped.FetchPackage, in)
			require.NoError(t, err)
			var staged FetchResult
			require.NoError(t, v.Get(&staged))
			gets := tp.Gets()
			require.Len(t, gets, 1)
			assert.Equal(t, tc.wantRange, gets[0].rng)
			rec := loadDigests(StagingDigestsFile(staging))["R1.fastq.gz"]
			assert.Equal(t, hexSHA256(string(body)), rec.SHA256)
			assert.Equal(t, hexMD5(string(body)), rec.MD5)
			_, err = activityEnvFor(a).ExecuteActivity(a.VerifyPackage, in, staged)
			require.NoError(t, err)
		})
	}
}

func writeTemp(t *testing.T, data []byte) string {
	path := filepath.Join(t.TempDir(), "prefix")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// TestStageStreamWritesEveryByteWhateverTheAlignment: the part file written by StageStream
// (O_DIRECT for whole aligned blocks, the page cache for the rest) holds the stream byte for
// byte, from byte 0 or resumed at an unaligned offset, on the disk and on tmpfs (which refuses
// O_DIRECT), and the digests are the stream's.
func TestStageStreamWritesEveryByteWhateverTheAlignment(t *testing.T) {
	both := []string{checksum.SHA256, checksum.MD5}
	body := randomBody(t, 5<<20+123)
	dirs := []string{t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		shm, err := os.MkdirTemp("/dev/shm", "opsflow-test-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(shm) })
		dirs = append(dirs, shm)
	}
	for _, dir := range dirs {
		for _, offset := range []int64{0, 4096, 1<<20 + 5} {
			path := filepath.Join(dir, fmt.Sprintf("R1-%d.part", offset))
			require.NoError(t, os.WriteFile(path, body[:offset], 0o644))
			from, err := checksum.HashPrefix(t.Context(), path, both, offset)
			require.NoError(t, err)
			part, err := os.OpenFile(path, os.O_RDWR, 0)
			require.NoError(t, err)
			end, err := StageStream(t.Context(), part, bytes.NewReader(body[offset:]), both, from, func(checksum.Progress) {})
			require.NoError(t, part.Close())
			require.NoError(t, err)
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(body, got), "%s from %d: the part file is the stream", dir, offset)
			sums, err := checksum.Finish(both, end)
			require.NoError(t, err)
			assert.Equal(t, checksum.Digests{checksum.SHA256: hexSHA256(string(body)), checksum.MD5: hexMD5(string(body))}, sums)
		}
	}
}
