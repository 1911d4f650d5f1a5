package activities

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"

	"github.com/opsflow/opsflow/internal/checksum"
)

// StagedFile is what the copy recorded of one staged file: the digests of the bytes it
// received and wrote (computed as they were written, never read back), and the stat
// fingerprint (size, device, inode, modification time) of the file it wrote them into, so
// that the digests are only ever used for that very file. A file replaced or rewritten since
// (new inode or mtime) is hashed again; a file whose bytes changed on the disk without either
// changing (bit rot, a write that restored the mtime) is not detected: the bytes received are
// verified and fsynced, and the durable storage's own integrity covers them afterwards.
type StagedFile struct {
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	MD5     string `json:"md5,omitempty"`
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	MtimeNs int64  `json:"mtimeNs"`
}

// stagedFileOf is the record of a file with info st and digests sums.
func stagedFileOf(st os.FileInfo, sums checksum.Digests) StagedFile {
	r := StagedFile{Size: st.Size(), SHA256: sums[checksum.SHA256], MD5: sums[checksum.MD5], MtimeNs: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		r.Dev, r.Ino = uint64(sys.Dev), sys.Ino
	}
	return r
}

// describes tells whether r was recorded for the file st describes, unchanged since.
func (r StagedFile) describes(st os.FileInfo) bool {
	if st == nil || !st.Mode().IsRegular() {
		return false
	}
	o := stagedFileOf(st, nil)
	return r.Size == o.Size && r.Dev == o.Dev && r.Ino == o.Ino && r.MtimeNs == o.MtimeNs
}

// has tells whether r holds a digest of every algorithm.
func (r StagedFile) has(algorithms []string) bool {
	for _, alg := range algorithms {
		if r.digest(alg) == "" {
			return false
		}
	}
	return true
}

func (r StagedFile) digest(alg string) string {
	switch alg {
	case checksum.SHA256:
		return r.SHA256
	case checksum.MD5:
		return r.MD5
	}
	return ""
}

// StagingDigestsFile is where FetchPackage records the digests of the files it staged into
// stagingDir, for VerifyPackage: beside the staging directory, never inside the package
// (bench/copy stages a package there as FetchPackage does).
func StagingDigestsFile(stagingDir string) string { return stagingDir + ".digests.json" }

func (a *ImportActivities) digestsFile(id string) string {
	return StagingDigestsFile(a.layout().StagingDir(id))
}

// digestsDoc is the digests file's content.
type digestsDoc struct {
	Version int                   `json:"version"`
	Files   map[string]StagedFile `json:"files"`
}

// loadDigests reads a digests file; empty (never nil) when it is missing or unreadable, in
// which case the files are hashed from disk.
func loadDigests(path string) map[string]StagedFile {
	out := map[string]StagedFile{}
	if path == "" {
		return out
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	var doc digestsDoc
	if json.Unmarshal(data, &doc) != nil || doc.Version != 1 {
		return out
	}
	for p, r := range doc.Files {
		out[p] = r
	}
	return out
}

// saveDigests writes the digests file atomically and durably: a fresh temporary file (two
// attempts may save at once), fsynced, renamed into place, the directory fsynced.
func saveDigests(path string, files map[string]StagedFile) error {
	data, err := json.Marshal(digestsDoc{Version: 1, Files: files})
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return syncDir(dir)
}

// removeDigests removes a package's digests file and any temporary file a stopped save left.
func removeDigests(path string) error {
	leftovers, _ := filepath.Glob(path + ".tmp-*")
	for _, p := range append(leftovers, path) {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}
